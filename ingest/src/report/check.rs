//! Checking a report's fields, the same for the Open311 POST and the MQTT report topic.
//!
//! Every problem is collected, not just the first, because an Open311 client is owed all of
//! them at once (docs/open311.md "Errors").

use super::catalog;
use crate::area::Areas;
use serde_json::{Map, Value};

/// Longest description accepted, in characters (docs/open311.md).
pub const MAX_DESCRIPTION_CHARS: usize = 4000;
/// Longest first or last name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Longest address accepted, in characters.
pub const MAX_ADDRESS_CHARS: usize = 500;
/// Longest media URL accepted, in bytes.
pub const MAX_URL_BYTES: usize = 2048;
/// Longest phone number accepted, separators included, in bytes.
pub const MAX_PHONE_BYTES: usize = 32;
/// Longest device, account or client-side id accepted, in bytes.
pub const MAX_ID_BYTES: usize = 128;

/// The area of a report whose only location is an address naming no known area.
pub const UNPLACED: &str = "unplaced";

/// What kind of problem a field has; the Open311 layer turns it into a status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// The field is missing or malformed (Open311 400).
    Invalid,
    /// The `service_code` names no category (Open311 404).
    UnknownService,
    /// The point lies outside the city (Open311 400).
    OutsideCity,
}

/// One thing wrong with a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// What kind of problem.
    pub kind: ProblemKind,
    /// The field it concerns.
    pub field: String,
    /// A sentence for the app developer.
    pub message: String,
}

impl Problem {
    fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self {
            kind: ProblemKind::Invalid,
            field: field.to_string(),
            message: message.into(),
        }
    }
}

/// A report whose fields passed: where it is and what to store.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedReport {
    /// Area id (or [`UNPLACED`]).
    pub area: String,
    /// Latitude, when given.
    pub lat: Option<f64>,
    /// Longitude, when given.
    pub lon: Option<f64>,
    /// The stored fields (service code, text, contact, attributes).
    pub values: Map<String, Value>,
}

/// Text fields copied as they are, with their length limit in characters.
const TEXT_FIELDS: [(&str, usize); 6] = [
    ("description", MAX_DESCRIPTION_CHARS),
    ("address_string", MAX_ADDRESS_CHARS),
    ("first_name", MAX_NAME_CHARS),
    ("last_name", MAX_NAME_CHARS),
    ("device_id", MAX_ID_BYTES),
    ("account_id", MAX_ID_BYTES),
];

/// Checks a report's fields. `topic_area` is the area named by an MQTT topic, if any; the
/// fields may hold strings or numbers (form bodies carry everything as strings).
pub fn check(
    fields: &Map<String, Value>,
    areas: &Areas,
    topic_area: Option<&str>,
) -> Result<CheckedReport, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut values = Map::new();

    match text(fields, "service_code") {
        Err(problem) => problems.push(problem),
        Ok(None) => problems.push(Problem::invalid("service_code", "service_code is required")),
        Ok(Some(code)) => match catalog::service(&code) {
            Some(service) => {
                values.insert("service_code".into(), Value::String(code));
                match attributes(fields, service) {
                    Ok(attrs) if !attrs.is_empty() => {
                        values.insert("attributes".into(), Value::Object(attrs));
                    }
                    Ok(_) => {}
                    Err(mut found) => problems.append(&mut found),
                }
            }
            None => problems.push(Problem {
                kind: ProblemKind::UnknownService,
                field: "service_code".into(),
                message: format!("service_code {code:?} is not a known service"),
            }),
        },
    }

    for (name, limit) in TEXT_FIELDS {
        match text(fields, name) {
            Err(problem) => problems.push(problem),
            Ok(None) => {}
            Ok(Some(value)) => match check_text(name, &value, limit) {
                Ok(()) => {
                    values.insert(name.into(), Value::String(value));
                }
                Err(problem) => problems.push(problem),
            },
        }
    }
    optional(fields, "media_url", check_url, &mut values, &mut problems);
    optional(fields, "email", check_email, &mut values, &mut problems);
    optional(fields, "phone", check_phone, &mut values, &mut problems);

    let lat = coordinate(fields, &["lat"], &mut problems);
    let lon = coordinate(fields, &["long", "lon"], &mut problems);
    let mut placed = None;
    let absent = |name: &str| fields.get(name).is_none_or(is_blank);
    match (lat, lon) {
        (Some(lat), Some(lon)) => match areas.locate(lat, lon) {
            Ok(area) => placed = Some(area.id.clone()),
            Err(error) => problems.push(Problem {
                kind: ProblemKind::OutsideCity,
                field: "lat".into(),
                message: error.to_string(),
            }),
        },
        (Some(_), None) if absent("long") && absent("lon") => {
            problems.push(Problem::invalid("long", "lat needs long"));
        }
        (None, Some(_)) if absent("lat") => {
            problems.push(Problem::invalid("lat", "long needs lat"));
        }
        (Some(_), None) | (None, Some(_)) => {}
        (None, None) => {
            if absent("address_string") && absent("lat") && absent("long") && absent("lon") {
                problems.push(Problem::invalid(
                    "lat",
                    "a location is required: lat and long, or address_string",
                ));
            }
        }
    }
    let named = match topic_area
        .map(str::to_string)
        .or(text(fields, "area").ok().flatten())
    {
        Some(id) => match areas.get(&id) {
            Some(area) => Some(area.id.clone()),
            None => {
                problems.push(Problem::invalid("area", format!("unknown area {id:?}")));
                None
            }
        },
        None => None,
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    let area = named.or(placed).unwrap_or_else(|| {
        values
            .get("address_string")
            .and_then(Value::as_str)
            .and_then(|address| area_named_in(areas, address))
            .unwrap_or_else(|| UNPLACED.to_string())
    });
    Ok(CheckedReport {
        area,
        lat,
        lon,
        values,
    })
}

fn is_blank(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(text) => text.trim().is_empty(),
        _ => false,
    }
}

/// A text field: absent/empty → `None`, a string → its value, anything else → a problem.
fn text(fields: &Map<String, Value>, name: &str) -> Result<Option<String>, Problem> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.is_empty() => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(Value::Number(n)) if name.ends_with("_id") => Ok(Some(n.to_string())),
        Some(_) => Err(Problem::invalid(name, format!("{name} must be a string"))),
    }
}

fn optional(
    fields: &Map<String, Value>,
    name: &str,
    check: fn(&str) -> Result<(), String>,
    values: &mut Map<String, Value>,
    problems: &mut Vec<Problem>,
) {
    match text(fields, name) {
        Err(problem) => problems.push(problem),
        Ok(None) => {}
        Ok(Some(value)) => match check(&value) {
            Ok(()) => {
                values.insert(name.into(), Value::String(value));
            }
            Err(message) => problems.push(Problem::invalid(name, message)),
        },
    }
}

/// Length and control characters (line breaks and tabs are text, the rest is not).
fn check_text(name: &str, value: &str, limit: usize) -> Result<(), Problem> {
    let chars = value.chars().count();
    if chars > limit {
        return Err(Problem::invalid(
            name,
            format!("{name} is {chars} characters long; at most {limit} are allowed"),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(Problem::invalid(
            name,
            format!("{name} holds control characters"),
        ));
    }
    Ok(())
}

fn check_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or("media_url must be an http or https URL")?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty()
        || url.len() > MAX_URL_BYTES
        || url.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(format!(
            "media_url must be an http or https URL with a host, without spaces, at most {MAX_URL_BYTES} bytes"
        ));
    }
    Ok(())
}

fn check_email(email: &str) -> Result<(), String> {
    let bad = || "email is not a valid address".to_string();
    let (local, domain) = email.rsplit_once('@').ok_or_else(bad)?;
    let labels_ok = domain.split('.').count() >= 2
        && domain.split('.').all(|label| {
            !label.is_empty() && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    if local.is_empty()
        || local.len() > 64
        || email.len() > 254
        || !local
            .chars()
            .all(|c| c.is_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c))
        || !labels_ok
    {
        return Err(bad());
    }
    Ok(())
}

fn check_phone(phone: &str) -> Result<(), String> {
    let body = phone.strip_prefix('+').unwrap_or(phone);
    let digits = body.chars().filter(char::is_ascii_digit).count();
    let allowed = body
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')'));
    if !allowed || !(8..=15).contains(&digits) || phone.len() > MAX_PHONE_BYTES {
        return Err(
            "phone must be 8 to 15 digits, optionally with +, spaces, dashes or dots, at most 32 characters".into(),
        );
    }
    Ok(())
}

/// A coordinate from a number or a numeric string; the first of `names` present is used.
fn coordinate(
    fields: &Map<String, Value>,
    names: &[&str],
    problems: &mut Vec<Problem>,
) -> Option<f64> {
    let (name, value) = names.iter().find_map(|name| {
        fields
            .get(*name)
            .filter(|v| !is_blank(v))
            .map(|v| (*name, v))
    })?;
    let number = match value {
        Value::Number(n) => n.as_f64(),
        Value::String(text) => text.trim().parse::<f64>().ok(),
        _ => None,
    };
    match number.filter(|n| n.is_finite()) {
        Some(n) => Some(n),
        None => {
            problems.push(Problem::invalid(name, format!("{name} must be a number")));
            None
        }
    }
}

/// The category's attributes from `attribute[code]` keys or an `attribute` object.
fn attributes(
    fields: &Map<String, Value>,
    service: &catalog::Service,
) -> Result<Map<String, Value>, Vec<Problem>> {
    let mut kept = Map::new();
    let mut problems = Vec::new();
    for attribute in service.attributes {
        let key = format!("attribute[{}]", attribute.code);
        let value = fields.get(&key).or_else(|| {
            fields
                .get("attribute")
                .and_then(Value::as_object)
                .and_then(|attrs| attrs.get(attribute.code))
        });
        let Some(value) = value.filter(|v| !is_blank(v)) else {
            if attribute.required {
                problems.push(Problem::invalid(&key, format!("{key} is required")));
            }
            continue;
        };
        let number = match value {
            Value::Number(n) => n.as_f64(),
            Value::String(text) => text.trim().parse::<f64>().ok(),
            _ => None,
        };
        let (min, max) = attribute.range;
        match number.filter(|n| n.is_finite() && (min..=max).contains(n)) {
            Some(n) => {
                kept.insert(attribute.code.into(), Value::from(n));
            }
            None => problems.push(Problem::invalid(
                &key,
                format!("{key} must be a number from {min} to {max}"),
            )),
        }
    }
    if problems.is_empty() {
        Ok(kept)
    } else {
        Err(problems)
    }
}

/// The area whose name or id appears in an address (`…, Hoàn Kiếm, Hà Nội`).
fn area_named_in(areas: &Areas, address: &str) -> Option<String> {
    let address = address.to_lowercase();
    areas
        .all()
        .iter()
        .find(|area| address.contains(&area.name.to_lowercase()) || address.contains(&area.id))
        .map(|area| area.id.clone())
}
