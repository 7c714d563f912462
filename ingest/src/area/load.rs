//! Reading an areas file: a JSON list of areas or a GeoJSON `FeatureCollection`.

use super::{Area, Areas};
use serde_json::Value;

/// Why an areas file was refused.
#[derive(Debug, thiserror::Error)]
pub enum AreaFileError {
    /// The file could not be read.
    #[error("cannot read areas file {path}: {source}")]
    Read {
        /// Path that was read.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not JSON of either accepted shape.
    #[error("areas file is not a JSON list of areas or a GeoJSON FeatureCollection: {0}")]
    Shape(String),
    /// An area's content is wrong.
    #[error("area #{index}: {problem}")]
    Invalid {
        /// Position of the area in the file, from 0.
        index: usize,
        /// What is wrong with it.
        problem: String,
    },
}

/// Parses either accepted shape and validates the result.
pub(super) fn parse_areas(text: &str) -> Result<Areas, AreaFileError> {
    let value: Value =
        serde_json::from_str(text).map_err(|error| AreaFileError::Shape(error.to_string()))?;
    let areas = match &value {
        Value::Array(_) => serde_json::from_value::<Vec<Area>>(value)
            .map_err(|error| AreaFileError::Shape(error.to_string()))?,
        Value::Object(map)
            if map.get("type").and_then(Value::as_str) == Some("FeatureCollection") =>
        {
            let features = map
                .get("features")
                .and_then(Value::as_array)
                .ok_or_else(|| {
                    AreaFileError::Shape("FeatureCollection without a features list".into())
                })?;
            features
                .iter()
                .enumerate()
                .map(|(index, feature)| feature_to_area(index, feature))
                .collect::<Result<Vec<_>, _>>()?
        }
        _ => {
            return Err(AreaFileError::Shape(
                "expected a list or a FeatureCollection".into(),
            ));
        }
    };
    Areas::new(areas)
}

/// One GeoJSON feature: `properties.id`, `properties.name`, a Polygon or MultiPolygon geometry
/// (first outer ring), centroid from `properties.lat`/`lon` or the ring's vertex mean.
fn feature_to_area(index: usize, feature: &Value) -> Result<Area, AreaFileError> {
    let invalid = |problem: &str| AreaFileError::Invalid {
        index,
        problem: problem.to_string(),
    };
    let properties = feature
        .get("properties")
        .ok_or_else(|| invalid("no properties"))?;
    let text = |key: &str| {
        properties
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let id = text("id").ok_or_else(|| invalid("properties.id missing"))?;
    let name = text("name").unwrap_or_else(|| id.clone());
    let geometry = feature.get("geometry");
    let ring_value = match geometry.and_then(|g| g.get("type")).and_then(Value::as_str) {
        Some("Polygon") => geometry.and_then(|g| g.pointer("/coordinates/0")),
        Some("MultiPolygon") => geometry.and_then(|g| g.pointer("/coordinates/0/0")),
        _ => None,
    };
    let polygon = match ring_value {
        Some(ring) => Some(
            serde_json::from_value::<Vec<[f64; 2]>>(ring.clone())
                .map_err(|_| invalid("polygon ring is not a list of [lon, lat]"))?,
        ),
        None => None,
    };
    let number = |key: &str| properties.get(key).and_then(Value::as_f64);
    let (lat, lon) = match (number("lat"), number("lon"), &polygon) {
        (Some(lat), Some(lon), _) => (lat, lon),
        (_, _, Some(ring)) if !ring.is_empty() => {
            let n = ring.len() as f64;
            (
                ring.iter().map(|p| p[1]).sum::<f64>() / n,
                ring.iter().map(|p| p[0]).sum::<f64>() / n,
            )
        }
        _ => return Err(invalid("neither lat/lon properties nor a polygon")),
    };
    Ok(Area {
        id,
        name,
        lat,
        lon,
        polygon,
    })
}

/// Ids are unique lowercase slugs; coordinates are finite; the list is not empty.
pub(super) fn validate(areas: &[Area]) -> Result<(), AreaFileError> {
    if areas.is_empty() {
        return Err(AreaFileError::Shape("no areas".into()));
    }
    let mut seen = std::collections::HashSet::new();
    for (index, area) in areas.iter().enumerate() {
        let invalid = |problem: String| AreaFileError::Invalid { index, problem };
        let slug = !area.id.is_empty()
            && area.id != "_"
            && area
                .id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !slug {
            return Err(invalid(format!("id {:?} is not a lowercase slug", area.id)));
        }
        if !seen.insert(area.id.as_str()) {
            return Err(invalid(format!("id {:?} appears twice", area.id)));
        }
        let finite = area.lat.is_finite()
            && area.lon.is_finite()
            && area
                .polygon
                .iter()
                .flatten()
                .all(|p| p[0].is_finite() && p[1].is_finite());
        if !finite || area.lat.abs() > 90.0 || area.lon.abs() > 180.0 {
            return Err(invalid(format!(
                "area {:?} has invalid coordinates",
                area.id
            )));
        }
    }
    Ok(())
}
