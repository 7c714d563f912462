//! Who is calling and what they may do (docs/auth.md): every `/api/*` handler starts here.
//!
//! Rules: no token, a bad signature, a malformed or an expired token is 401; a role below the
//! one an action needs, or an area outside the token's scope, is 403. Roles are ordered:
//! `viewer` reads, `operator` also acts on alerts and reports, `admin` also reads reporters'
//! contact details and the dead-letter. A handler either takes a [`Caller`] as an extractor
//! or calls [`authenticate`] itself, then asks [`Caller::require`] / [`Caller::require_area`].

use super::ApiError;
use crate::ApiState;
use crate::auth::{AuthError, Claims, Role, token_from};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, Uri};
use ioc_analytics::ViewRequest;

/// An authenticated caller: the claims of a valid, unexpired token.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    /// The verified claims.
    pub(crate) claims: Claims,
}

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        authenticate(state, &parts.headers, &parts.uri)
            .await
            .map(|claims| Caller { claims })
    }
}

impl Caller {
    /// Refuses (403) a caller whose role is below `needed`; `what` completes "… needs the X
    /// role" (e.g. "acknowledging an alert").
    pub(crate) fn require(&self, needed: Role, what: &str) -> Result<(), ApiError> {
        require_role(&self.claims, needed, what)
    }

    /// Refuses (403) an area outside the token's scope.
    pub(crate) fn require_area(&self, area: &str) -> Result<(), ApiError> {
        require_area(&self.claims, area)
    }

    /// The token's areas; `None` is the whole city. Lists and aggregates keep only these.
    pub(crate) fn scope(&self) -> Option<&[String]> {
        self.claims.areas.as_deref()
    }

    /// Checks a view request against the scope (403 for an area outside it) and attaches
    /// the scope, so that the view holds only the caller's areas.
    pub(crate) fn view_request(&self, request: ViewRequest) -> Result<ViewRequest, ApiError> {
        crate::scope::check_request(&self.claims, &request)?;
        Ok(crate::scope::scoped(&self.claims, request))
    }
}

/// Checks the request's token (`Authorization: Bearer …` or `?access_token=…`): 401 when it
/// is missing, malformed, badly signed or expired.
pub(crate) async fn authenticate(
    state: &ApiState,
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<Claims, ApiError> {
    let token = token_from(headers, uri.query()).ok_or(AuthError::Missing)?;
    Ok(state.auth.verify_any(&token).await?)
}

/// Refuses (403) a caller whose role is below `needed`; `what` completes "… needs the X role".
pub(crate) fn require_role(claims: &Claims, needed: Role, what: &str) -> Result<(), ApiError> {
    if claims.role >= needed {
        return Ok(());
    }
    let name = match needed {
        Role::Viewer => "viewer",
        Role::Operator => "operator",
        Role::Admin => "admin",
    };
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        format!("{what} needs the {name} role"),
    ))
}

/// Refuses (403) an area outside the claims' scope.
pub(crate) fn require_area(claims: &Claims, area: &str) -> Result<(), ApiError> {
    if crate::scope::allows_area(claims, area) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("area {area:?} is outside this token's scope"),
        ))
    }
}
