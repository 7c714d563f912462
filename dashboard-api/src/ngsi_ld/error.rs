//! NGSI-LD error answers: a problem document with `type` (an NGSI-LD error URI), `title` and
//! `detail`.

use crate::open_data::Fresh;
use axum::http::StatusCode;

/// An NGSI-LD error.
pub(crate) struct NgsiError {
    status: StatusCode,
    kind: &'static str,
    title: &'static str,
    detail: String,
}

impl NgsiError {
    /// 400 `BadRequestData`: a query parameter is missing or malformed.
    pub(crate) fn bad_request(detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            kind: "BadRequestData",
            title: "Bad request data",
            detail: detail.into(),
        }
    }

    /// 404 `ResourceNotFound`.
    pub(crate) fn not_found(detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            kind: "ResourceNotFound",
            title: "Resource not found",
            detail: detail.into(),
        }
    }

    /// 406 `NotAcceptable`: the client accepts neither JSON nor JSON-LD.
    pub(crate) fn not_acceptable() -> Self {
        Self {
            status: StatusCode::NOT_ACCEPTABLE,
            kind: "NotAcceptable",
            title: "Not acceptable",
            detail: "this service answers application/ld+json or application/json".into(),
        }
    }

    /// The answer.
    pub(crate) fn fresh(self) -> Fresh {
        let bytes = serde_json::to_vec(&serde_json::json!({
            "type": format!("https://uri.etsi.org/ngsi-ld/errors/{}", self.kind),
            "title": self.title,
            "detail": self.detail,
        }))
        .unwrap_or_default();
        Fresh {
            status: self.status,
            content_type: "application/json",
            headers: Vec::new(),
            identity: bytes.clone(),
            body: Box::new(move |_| bytes),
        }
    }
}
