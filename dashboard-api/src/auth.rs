//! Signed tokens with a role and an optional area scope: HS256 tokens the engine signs itself
//! (`ioc token`), and RS256/ES256 tokens from an OpenID Connect identity provider (see
//! [`crate::oidc`] and docs/auth.md).

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// What a token holder may do; each role can do everything the roles before it can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads views and lists.
    Viewer,
    /// Also acts on alerts and reports.
    Operator,
    /// Also reads reporters' contact details and the dead-letter.
    Admin,
}

impl Role {
    /// Parses `viewer`, `operator` or `admin`.
    pub fn parse(name: &str) -> Option<Role> {
        match name {
            "viewer" => Some(Role::Viewer),
            "operator" => Some(Role::Operator),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// The claims the engine signs and checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Who the token was issued to.
    pub sub: String,
    /// What they may do.
    pub role: Role,
    /// Areas they may see; absent means the whole city.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub areas: Option<Vec<String>>,
    /// Issued at, seconds since the epoch.
    pub iat: u64,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
}

/// Why a token was refused (always a 401 to the caller).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No token in the header or query.
    #[error("missing bearer token")]
    Missing,
    /// Bad signature, malformed or expired.
    #[error("invalid token: {0}")]
    Invalid(String),
}

/// Signs and verifies the engine's own tokens with one secret, and hands tokens signed by the
/// identity provider (when one is configured) to [`crate::oidc::Oidc`].
#[derive(Clone)]
pub struct Authenticator {
    encoding: EncodingKey,
    decoding: DecodingKey,
    oidc: Option<std::sync::Arc<crate::oidc::Oidc>>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret is never printed.
        f.write_str("Authenticator { .. }")
    }
}

impl Authenticator {
    /// An authenticator for an HS256 secret.
    pub fn new(secret: &[u8]) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            oidc: None,
        }
    }

    /// Also accepts tokens from an OpenID Connect issuer.
    pub fn with_oidc(mut self, oidc: crate::oidc::Oidc) -> Self {
        self.oidc = Some(std::sync::Arc::new(oidc));
        self
    }

    /// Signs a token for `sub` with `role`, optional `areas`, valid for `ttl`.
    pub fn mint(
        &self,
        sub: &str,
        role: Role,
        areas: Option<Vec<String>>,
        ttl: std::time::Duration,
    ) -> Result<String, AuthError> {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: sub.to_string(),
            role,
            areas,
            iat: now,
            exp: now + ttl.as_secs(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|error| AuthError::Invalid(error.to_string()))
    }

    /// Checks any token the engine accepts: an HS256 one with [`Authenticator::verify`], an
    /// RS256/ES256 one with the identity provider's keys (fetched again on an unknown `kid`).
    pub async fn verify_any(&self, token: &str) -> Result<Claims, AuthError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|error| AuthError::Invalid(error.to_string()))?;
        match (header.alg, &self.oidc) {
            (Algorithm::HS256, _) => self.verify(token),
            (Algorithm::RS256 | Algorithm::ES256, Some(oidc)) => oidc.verify(token, &header).await,
            (other, _) => Err(AuthError::Invalid(format!(
                "tokens signed with {other:?} are not accepted"
            ))),
        }
    }

    /// Checks signature and expiry of an HS256 token and returns the claims.
    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|error| AuthError::Invalid(error.to_string()))
    }
}

/// The token of a request: `Authorization: Bearer …`, else `?access_token=…`.
pub fn token_from(headers: &axum::http::HeaderMap, query: Option<&str>) -> Option<String> {
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))
        })
        .map(|token| token.trim().to_string());
    bearer.or_else(|| {
        query?.split('&').find_map(|pair| {
            pair.strip_prefix("access_token=")
                .map(|token| token.to_string())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn minted_tokens_verify_and_carry_their_claims() {
        let auth = Authenticator::new(b"test-secret-0123456789");
        let token = auth
            .mint(
                "op1",
                Role::Operator,
                Some(vec!["hoan-kiem".into()]),
                Duration::from_secs(60),
            )
            .unwrap_or_default();
        let claims = auth.verify(&token);
        assert_eq!(claims.as_ref().map(|c| c.role), Ok(Role::Operator));
        assert_eq!(
            claims.map(|c| c.areas),
            Ok(Some(vec!["hoan-kiem".to_string()]))
        );
    }

    #[test]
    fn other_secrets_and_expired_tokens_are_refused() {
        let auth = Authenticator::new(b"secret-a");
        let token = auth
            .mint("x", Role::Viewer, None, Duration::from_secs(60))
            .unwrap_or_default();
        assert!(Authenticator::new(b"secret-b").verify(&token).is_err());
        let expired = auth
            .mint("x", Role::Viewer, None, Duration::ZERO)
            .unwrap_or_default();
        std::thread::sleep(Duration::from_millis(1100));
        assert!(auth.verify(&expired).is_err());
    }
}
