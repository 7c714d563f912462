//! Answers of the public endpoints, cached per view tick: the first request of a tick computes
//! an answer, every other request of the same tick (and of later ticks, while the content is
//! unchanged) gets the same bytes. Each answer carries a content `ETag`, `Last-Modified` (when
//! the content last changed) and `Cache-Control`; a matching `If-None-Match` (or a
//! not-newer `If-Modified-Since`) gets 304 without a body.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

/// Answers kept at most; past this, answers of earlier ticks are forgotten first.
const MAX_ENTRIES: usize = 1024;

/// Builds an answer's body from its generation time (RFC 3339).
pub(crate) type BodyBuilder = Box<dyn FnOnce(&str) -> Vec<u8> + Send>;

/// A freshly computed answer, before it gets its time stamp.
pub(crate) struct Fresh {
    /// Status of the answer.
    pub status: StatusCode,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// Extra headers (`Link`, `NGSILD-Results-Count`).
    pub headers: Vec<(HeaderName, String)>,
    /// What identifies the content (it decides the `ETag`); excludes the generation time.
    pub identity: Vec<u8>,
    /// Builds the body given the generation time (RFC 3339).
    pub body: BodyBuilder,
}

/// A stamped answer, shared by every request it serves.
#[derive(Debug)]
pub(crate) struct Cached {
    status: StatusCode,
    content_type: &'static str,
    headers: Vec<(HeaderName, String)>,
    etag: String,
    last_modified_ms: i64,
    body: axum::body::Bytes,
}

struct Entry {
    tick: i64,
    hash: u64,
    cached: Arc<Cached>,
}

/// The cache of public answers by request (path, query, negotiated format).
pub(crate) struct ResponseCache {
    tick_ms: i64,
    max_age_secs: u32,
    entries: Mutex<HashMap<String, Entry>>,
}

fn hash_of(bytes: &[u8]) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    bytes.hash(&mut hasher);
    hasher.finish()
}

impl ResponseCache {
    /// A cache whose answers live for one tick of `tick_ms`, telling clients they may keep
    /// an answer `max_age_secs`.
    pub(crate) fn new(tick_ms: i64, max_age_secs: u32) -> Self {
        Self {
            tick_ms: tick_ms.max(1),
            max_age_secs,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The answer of this tick for `key`, computing it with `compute` (off the async runtime)
    /// when this tick has none.
    pub(crate) async fn answer(
        &self,
        key: String,
        compute: impl FnOnce() -> Fresh + Send + 'static,
    ) -> Arc<Cached> {
        let now_ms = ioc_ingest::event::now_ms();
        let tick = now_ms.div_euclid(self.tick_ms);
        if let Some(entry) = self.lock().get(&key).filter(|entry| entry.tick == tick) {
            return Arc::clone(&entry.cached);
        }
        let fresh = match tokio::task::spawn_blocking(compute).await {
            Ok(fresh) => fresh,
            Err(error) => Fresh {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                content_type: "application/json",
                headers: Vec::new(),
                identity: Vec::new(),
                body: Box::new(move |_| {
                    serde_json::json!({"error": format!("answer failed: {error}")})
                        .to_string()
                        .into_bytes()
                }),
            },
        };
        let hash = hash_of(&fresh.identity);
        let mut entries = self.lock();
        if let Some(entry) = entries.get_mut(&key).filter(|entry| entry.hash == hash) {
            // Same content as before: same bytes, ETag and Last-Modified.
            entry.tick = tick;
            return Arc::clone(&entry.cached);
        }
        let generated_at = ioc_ingest::event::format_ts(now_ms);
        let cached = Arc::new(Cached {
            status: fresh.status,
            content_type: fresh.content_type,
            headers: fresh.headers,
            etag: format!("\"{hash:016x}\""),
            last_modified_ms: now_ms,
            body: (fresh.body)(&generated_at).into(),
        });
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, entry| entry.tick == tick);
        }
        if entries.len() < MAX_ENTRIES {
            entries.insert(
                key,
                Entry {
                    tick,
                    hash,
                    cached: Arc::clone(&cached),
                },
            );
        }
        cached
    }

    /// The HTTP answer to a request with `request_headers`: 304 when the client's copy is
    /// current, else the full answer.
    pub(crate) fn respond(&self, cached: &Cached, request_headers: &HeaderMap) -> Response {
        let last_modified = http_date(cached.last_modified_ms);
        let not_modified = match request_headers.get(header::IF_NONE_MATCH) {
            Some(wanted) => wanted
                .to_str()
                .is_ok_and(|wanted| etag_matches(wanted, &cached.etag)),
            None => request_headers
                .get(header::IF_MODIFIED_SINCE)
                .and_then(|since| since.to_str().ok())
                .and_then(|since| chrono::DateTime::parse_from_rfc2822(since).ok())
                .is_some_and(|since| cached.last_modified_ms / 1000 <= since.timestamp()),
        };
        let cacheable = cached.status.is_success();
        let mut builder = Response::builder()
            .header(header::ETAG, &cached.etag)
            .header(header::LAST_MODIFIED, last_modified)
            .header(
                header::CACHE_CONTROL,
                if cacheable {
                    format!("public, max-age={}", self.max_age_secs)
                } else {
                    "no-cache".to_string()
                },
            )
            .header(header::VARY, "Accept");
        if cacheable && not_modified {
            return builder
                .status(StatusCode::NOT_MODIFIED)
                .body(Body::empty())
                .unwrap_or_default();
        }
        for (name, value) in &cached.headers {
            if let Ok(value) = HeaderValue::from_str(value) {
                builder = builder.header(name, value);
            }
        }
        builder
            .status(cached.status)
            .header(header::CONTENT_TYPE, cached.content_type)
            .header("access-control-allow-origin", "*")
            .body(Body::from(cached.body.clone()))
            .unwrap_or_default()
    }
}

/// Whether an `If-None-Match` value names `etag` (weak comparison, `*` matches anything).
fn etag_matches(wanted: &str, etag: &str) -> bool {
    wanted.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == etag
    })
}

/// An HTTP date (`Sun, 29 Nov 2026 15:25:03 GMT`).
fn http_date(ts_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ts_ms)
        .map(|at| at.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_match_strong_weak_lists_and_star() {
        assert!(etag_matches("\"ab\"", "\"ab\""));
        assert!(etag_matches("W/\"ab\"", "\"ab\""));
        assert!(etag_matches("\"x\", \"ab\"", "\"ab\""));
        assert!(etag_matches("*", "\"ab\""));
        assert!(!etag_matches("\"abc\"", "\"ab\""));
    }

    #[test]
    fn http_dates_are_imf_fixdate() {
        assert_eq!(
            http_date(1_795_966_703_000),
            "Sun, 29 Nov 2026 15:38:23 GMT"
        );
    }
}
