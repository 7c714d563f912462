//! Area scopes: a token limited to some areas sees and acts on those areas only.

use crate::auth::Claims;
use ioc_analytics::{ViewError, ViewRequest};

/// Whether the claims allow this area.
pub fn allows_area(claims: &Claims, area: &str) -> bool {
    claims
        .areas
        .as_ref()
        .is_none_or(|areas| areas.iter().any(|a| a == area))
}

/// Refuses a view request naming an area outside the caller's scope.
pub fn check_request(claims: &Claims, request: &ViewRequest) -> Result<(), ViewError> {
    match &request.area {
        Some(area) if !allows_area(claims, area) => Err(ViewError::Forbidden(format!(
            "area {area:?} is outside this token's scope"
        ))),
        _ => Ok(()),
    }
}

/// Attaches the token's area scope to a view request, so that views listing several areas
/// (`reports`, `kpi`) hold only the caller's.
pub fn scoped(claims: &Claims, mut request: ViewRequest) -> ViewRequest {
    request.scope.clone_from(&claims.areas);
    request
}
