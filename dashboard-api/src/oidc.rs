//! Sign-in through the city's OpenID Connect identity provider (Keycloak and the like): tokens
//! it signs with RS256 or ES256 are checked against its published keys (JWKS), their issuer
//! and audience, and turned into the engine's [`Claims`] through configurable claim paths.
//!
//! Keys come from a JWKS URL, a JWKS file, or the issuer's discovery document; they are read
//! at the first token and read again when a token names a key id (`kid`) not yet known — the
//! provider rotated its keys — at most once per `refresh_min_interval`.

use crate::auth::{AuthError, Claims, Role};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Header, Validation};
use serde_json::Value;
use std::sync::RwLock;
use std::time::{Duration, Instant};

/// What the engine needs to know about the identity provider.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// The issuer, exactly as in the tokens' `iss`.
    pub issuer: String,
    /// A JWKS URL (`http(s)://…`) or file path; `None` = the `jwks_uri` of the issuer's
    /// `/.well-known/openid-configuration`.
    pub jwks: Option<String>,
    /// The audience tokens must name; `None` = not checked.
    pub audience: Option<String>,
    /// Dotted path of the role claim (a string or a list of strings).
    pub role_claim: String,
    /// Dotted path of the areas claim (a list of area ids, or one); absent = the whole city.
    pub areas_claim: String,
    /// The shortest time between two refreshes caused by unknown key ids, so that tokens with
    /// made-up `kid`s cannot make the engine hammer the provider.
    pub refresh_min_interval: Duration,
}

/// Why the keys could not be had (logged; the caller sees a 401).
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    /// The URL could not be fetched.
    #[error("cannot fetch {0}: {1}")]
    Fetch(String, String),
    /// The file could not be read.
    #[error("cannot read {0}: {1}")]
    Read(String, std::io::Error),
    /// The document is not a JWKS (or discovery document).
    #[error("{0} is not a valid document: {1}")]
    Parse(String, String),
}

/// The identity provider's keys and how to check its tokens.
pub struct Oidc {
    settings: OidcSettings,
    http: reqwest::Client,
    keys: RwLock<JwkSet>,
    /// When the keys were last read; only one refresh runs at a time.
    refreshed: tokio::sync::Mutex<Option<Instant>>,
}

impl std::fmt::Debug for Oidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oidc")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Oidc {
    /// An OIDC verifier; keys are read at the first token.
    pub fn new(settings: OidcSettings) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        Self {
            settings,
            http,
            keys: RwLock::new(JwkSet { keys: Vec::new() }),
            refreshed: tokio::sync::Mutex::new(None),
        }
    }

    /// Checks an RS256/ES256 token: a known key (refreshing the set once for an unknown
    /// `kid`), the signature, expiry, issuer and audience; then maps role and areas.
    pub async fn verify(&self, token: &str, header: &Header) -> Result<Claims, AuthError> {
        let kid = header.kid.clone().unwrap_or_default();
        let key = match self.key(&kid) {
            Some(key) => key,
            None => {
                self.refresh().await;
                self.key(&kid).ok_or_else(|| {
                    AuthError::Invalid(format!("no key {kid:?} in the issuer's key set"))
                })?
            }
        };
        let mut validation = Validation::new(header.alg);
        validation.algorithms = vec![header.alg];
        validation.leeway = 0;
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_required_spec_claims(&["exp", "iss"]);
        match &self.settings.audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        let claims = jsonwebtoken::decode::<Value>(token, &key, &validation)
            .map_err(|error| AuthError::Invalid(error.to_string()))?
            .claims;
        self.claims(&claims)
    }

    /// The decoding key of `kid` (or the only key, for a token without `kid`), if known and
    /// of an accepted kind.
    fn key(&self, kid: &str) -> Option<DecodingKey> {
        let keys = self.keys.read().ok()?;
        let jwk = if kid.is_empty() && keys.keys.len() == 1 {
            keys.keys.first()
        } else {
            keys.find(kid)
        }?;
        DecodingKey::from_jwk(jwk).ok()
    }

    /// Reads the key set again unless that happened less than `refresh_min_interval` ago.
    async fn refresh(&self) {
        let mut refreshed = self.refreshed.lock().await;
        if refreshed.is_some_and(|at| at.elapsed() < self.settings.refresh_min_interval) {
            return;
        }
        *refreshed = Some(Instant::now());
        match self.fetch().await {
            Ok(set) => {
                tracing::info!(keys = set.keys.len(), "OIDC signing keys loaded");
                if let Ok(mut keys) = self.keys.write() {
                    *keys = set;
                }
            }
            Err(error) => tracing::warn!(%error, "OIDC signing keys not refreshed"),
        }
    }

    /// The key set from the configured place.
    async fn fetch(&self) -> Result<JwkSet, JwksError> {
        let location = match &self.settings.jwks {
            Some(location) => location.clone(),
            None => self.discover().await?,
        };
        let text = if location.starts_with("http://") || location.starts_with("https://") {
            self.get(&location).await?
        } else {
            tokio::fs::read_to_string(&location)
                .await
                .map_err(|error| JwksError::Read(location.clone(), error))?
        };
        serde_json::from_str(&text).map_err(|error| JwksError::Parse(location, error.to_string()))
    }

    /// The `jwks_uri` of the issuer's discovery document.
    async fn discover(&self) -> Result<String, JwksError> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.settings.issuer.trim_end_matches('/')
        );
        let document: Value = serde_json::from_str(&self.get(&url).await?)
            .map_err(|error| JwksError::Parse(url.clone(), error.to_string()))?;
        document["jwks_uri"]
            .as_str()
            .map(String::from)
            .ok_or_else(|| JwksError::Parse(url, "no jwks_uri".into()))
    }

    /// A successful GET's body.
    async fn get(&self, url: &str) -> Result<String, JwksError> {
        let fail = |error: reqwest::Error| JwksError::Fetch(url.to_string(), error.to_string());
        self.http
            .get(url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(fail)?
            .text()
            .await
            .map_err(fail)
    }

    /// The engine's claims from the provider's: the highest role named in the role claim, the
    /// areas of the areas claim.
    fn claims(&self, claims: &Value) -> Result<Claims, AuthError> {
        let role = strings(claim(claims, &self.settings.role_claim))
            .iter()
            .filter_map(|name| Role::parse(name))
            .max()
            .ok_or_else(|| {
                AuthError::Invalid(format!(
                    "no role viewer, operator or admin in the token's {}",
                    self.settings.role_claim
                ))
            })?;
        let areas = claim(claims, &self.settings.areas_claim).map(|value| strings(Some(value)));
        let seconds = |name: &str| claims[name].as_u64().unwrap_or_default();
        Ok(Claims {
            sub: claims["sub"].as_str().unwrap_or_default().to_string(),
            role,
            areas,
            iat: seconds("iat"),
            exp: seconds("exp"),
        })
    }
}

/// The value at a dotted path (`realm_access.roles`) of a claims object.
fn claim<'a>(claims: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(claims, |value, part| value.get(part))
        .filter(|value| !value.is_null())
}

/// A claim as a list of strings: a list's strings, or one string.
fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(one)) => vec![one.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn oidc(role_claim: &str, areas_claim: &str) -> Oidc {
        Oidc::new(OidcSettings {
            issuer: "https://sso.example/realms/ioc".into(),
            jwks: None,
            audience: None,
            role_claim: role_claim.into(),
            areas_claim: areas_claim.into(),
            refresh_min_interval: Duration::from_secs(10),
        })
    }

    #[test]
    fn keycloak_realm_roles_map_to_the_highest_known_role() {
        let claims = json!({
            "sub": "u-1", "iat": 10, "exp": 20,
            "realm_access": {"roles": ["offline_access", "viewer", "operator"]},
            "ioc": {"areas": ["hoan-kiem", "ba-dinh"]},
        });
        let mapped = oidc("realm_access.roles", "ioc.areas").claims(&claims);
        assert_eq!(
            mapped,
            Ok(Claims {
                sub: "u-1".into(),
                role: Role::Operator,
                areas: Some(vec!["hoan-kiem".into(), "ba-dinh".into()]),
                iat: 10,
                exp: 20,
            })
        );
    }

    #[test]
    fn a_token_without_a_known_role_is_refused_and_no_areas_claim_is_the_city() {
        let oidc = oidc("role", "areas");
        assert!(
            oidc.claims(&json!({"sub": "x", "role": "superuser"}))
                .is_err()
        );
        let viewer = oidc.claims(&json!({"sub": "x", "role": "viewer"}));
        assert_eq!(viewer.map(|c| (c.role, c.areas)), Ok((Role::Viewer, None)));
    }
}
