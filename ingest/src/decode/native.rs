//! Native JSON, what the simulator sends:
//! `{"id","source","kind","area","ts","lat","lon","values":{…}}`.

use super::{Draft, optional_f64, optional_str, parse_ts};
use crate::reject::{Reason, Rejection};
use serde_json::{Map, Value};

/// Decodes a native JSON object.
pub(super) fn decode(map: &Map<String, Value>) -> Result<Draft, Rejection> {
    let values = match map.get("values") {
        Some(Value::Object(values)) => values.clone(),
        Some(_) => {
            return Err(Rejection::new(
                Reason::WrongType,
                "`values` must be an object",
            ));
        }
        None => return Err(Rejection::new(Reason::MissingField, "`values` is missing")),
    };
    let ts_ms = match map.get("ts") {
        Some(Value::Null) | None => None,
        Some(ts) => Some(parse_ts(ts, "ts")?),
    };
    Ok(Draft {
        id: optional_str(map, "id")?,
        source: optional_str(map, "source")?,
        kind: optional_str(map, "kind")?,
        area: optional_str(map, "area")?,
        ts_ms,
        lat: optional_f64(map, "lat")?,
        lon: optional_f64(map, "lon")?,
        values,
    })
}
