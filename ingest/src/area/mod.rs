//! Areas: the geographic units the IOC reports on, loaded as data (docs/events.md "Areas").
//!
//! The compiled-in default is Hanoi's 30 former district-level units; a deployment replaces it
//! with `--areas FILE` (a JSON list or a GeoJSON `FeatureCollection`).

mod load;

pub use load::AreaFileError;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

/// One area: a slug id, its Vietnamese name, a centroid and an optional boundary polygon.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Area {
    /// Stable slug used in topics, views and URLs (`hoan-kiem`).
    pub id: String,
    /// Display name in Vietnamese, with diacritics (`Hoàn Kiếm`).
    pub name: String,
    /// Centroid latitude (WGS 84).
    pub lat: f64,
    /// Centroid longitude (WGS 84).
    pub lon: f64,
    /// Outer ring as `[lon, lat]` pairs (GeoJSON order); when present it wins over the centroid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub polygon: Option<Vec<[f64; 2]>>,
}

/// Why a point could not be placed in an area.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("point ({lat}, {lon}) is outside the city's bounds")]
pub struct OutsideCity {
    /// Latitude that was asked for.
    pub lat: f64,
    /// Longitude that was asked for.
    pub lon: f64,
}

/// Margin in degrees (about 11 km) added around the areas' extent to form the city's bounds.
const BOUNDS_MARGIN_DEG: f64 = 0.1;

/// Latitude/longitude box that a point must fall in to belong to the city.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bounds {
    /// Southern edge.
    pub min_lat: f64,
    /// Northern edge.
    pub max_lat: f64,
    /// Western edge.
    pub min_lon: f64,
    /// Eastern edge.
    pub max_lon: f64,
}

impl Bounds {
    /// Whether the point lies inside the box (edges included).
    pub fn contains(&self, lat: f64, lon: f64) -> bool {
        (self.min_lat..=self.max_lat).contains(&lat) && (self.min_lon..=self.max_lon).contains(&lon)
    }
}

/// The set of areas of one deployment, with lookup by id and by coordinates.
#[derive(Debug, Clone)]
pub struct Areas {
    areas: Vec<Area>,
    /// Each id's place in `areas`: every event names its area, and a scan comparing up to 30
    /// ids per event was a visible share of decoding (BENCHMARKS.md, B2).
    by_id: FxHashMap<String, usize>,
    bounds: Bounds,
}

/// No areas: a placeholder until a deployment's set is given (a state decoded from a snapshot
/// takes the set in force).
impl Default for Areas {
    fn default() -> Self {
        Self {
            areas: Vec::new(),
            by_id: FxHashMap::default(),
            bounds: extent(&[]),
        }
    }
}

impl Areas {
    /// Hanoi's 30 former district-level units, compiled in.
    pub fn hanoi() -> Self {
        let text = include_str!("hanoi.json");
        match load::parse_areas(text) {
            Ok(areas) => areas,
            // The embedded file is checked by a unit test; this arm only keeps the type honest.
            Err(error) => panic!("embedded Hanoi areas are invalid: {error}"),
        }
    }

    /// Builds the set from a list, checking that ids are unique slugs and coordinates finite.
    pub fn new(areas: Vec<Area>) -> Result<Self, AreaFileError> {
        load::validate(&areas)?;
        let bounds = extent(&areas);
        let by_id = areas
            .iter()
            .enumerate()
            .map(|(at, area)| (area.id.clone(), at))
            .collect();
        Ok(Self {
            areas,
            by_id,
            bounds,
        })
    }

    /// Loads the set from a JSON list or a GeoJSON `FeatureCollection` file.
    pub fn from_file(path: &std::path::Path) -> Result<Self, AreaFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| AreaFileError::Read {
            path: path.display().to_string(),
            source,
        })?;
        load::parse_areas(&text)
    }

    /// All areas in file order.
    pub fn all(&self) -> &[Area] {
        &self.areas
    }

    /// Number of areas.
    pub fn len(&self) -> usize {
        self.areas.len()
    }

    /// Whether the set is empty (never true for a loaded set).
    pub fn is_empty(&self) -> bool {
        self.areas.is_empty()
    }

    /// The area with this id.
    pub fn get(&self, id: &str) -> Option<&Area> {
        self.areas.get(*self.by_id.get(id)?)
    }

    /// Checks that a point may be placed in the city (finite, within [`Areas::bounds`]):
    /// what [`Areas::locate`] checks before it searches for the area.
    pub fn check_inside(&self, lat: f64, lon: f64) -> Result<(), OutsideCity> {
        if lat.is_finite() && lon.is_finite() && self.bounds.contains(lat, lon) {
            Ok(())
        } else {
            Err(OutsideCity { lat, lon })
        }
    }

    /// The city's bounds: the areas' extent plus a margin.
    pub fn bounds(&self) -> Bounds {
        self.bounds
    }

    /// Places a point: the area whose polygon contains it, else the nearest centroid.
    pub fn locate(&self, lat: f64, lon: f64) -> Result<&Area, OutsideCity> {
        self.check_inside(lat, lon)?;
        if let Some(area) = self.areas.iter().find(|area| {
            area.polygon
                .as_deref()
                .is_some_and(|ring| ring_contains(ring, lat, lon))
        }) {
            return Ok(area);
        }
        self.areas
            .iter()
            .min_by(|a, b| squared_distance(a, lat, lon).total_cmp(&squared_distance(b, lat, lon)))
            .ok_or(OutsideCity { lat, lon })
    }
}

/// Squared equirectangular distance; enough to rank centroids a few dozen km apart.
fn squared_distance(area: &Area, lat: f64, lon: f64) -> f64 {
    let dlat = area.lat - lat;
    let dlon = (area.lon - lon) * lat.to_radians().cos();
    dlat * dlat + dlon * dlon
}

/// Even-odd ray casting over a `[lon, lat]` ring.
fn ring_contains(ring: &[[f64; 2]], lat: f64, lon: f64) -> bool {
    let mut inside = false;
    let mut previous = match ring.last() {
        Some(point) => *point,
        None => return false,
    };
    for &current in ring {
        let ([x1, y1], [x2, y2]) = (previous, current);
        if (y1 > lat) != (y2 > lat) && lon < x1 + (lat - y1) * (x2 - x1) / (y2 - y1) {
            inside = !inside;
        }
        previous = current;
    }
    inside
}

/// The areas' extent (centroids and polygon vertices) widened by [`BOUNDS_MARGIN_DEG`].
fn extent(areas: &[Area]) -> Bounds {
    let mut bounds = Bounds {
        min_lat: f64::INFINITY,
        max_lat: f64::NEG_INFINITY,
        min_lon: f64::INFINITY,
        max_lon: f64::NEG_INFINITY,
    };
    let polygon_points = areas
        .iter()
        .flat_map(|area| area.polygon.iter().flatten().map(|[lon, lat]| (*lat, *lon)));
    let centroids = areas.iter().map(|area| (area.lat, area.lon));
    for (lat, lon) in centroids.chain(polygon_points) {
        bounds.min_lat = bounds.min_lat.min(lat);
        bounds.max_lat = bounds.max_lat.max(lat);
        bounds.min_lon = bounds.min_lon.min(lon);
        bounds.max_lon = bounds.max_lon.max(lon);
    }
    bounds.min_lat -= BOUNDS_MARGIN_DEG;
    bounds.max_lat += BOUNDS_MARGIN_DEG;
    bounds.min_lon -= BOUNDS_MARGIN_DEG;
    bounds.max_lon += BOUNDS_MARGIN_DEG;
    bounds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hanoi_has_thirty_areas_with_vietnamese_names() {
        let areas = Areas::hanoi();
        assert_eq!(areas.len(), 30);
        assert_eq!(
            areas.get("hoan-kiem").map(|a| a.name.as_str()),
            Some("Hoàn Kiếm")
        );
        assert_eq!(
            areas.get("ung-hoa").map(|a| a.name.as_str()),
            Some("Ứng Hòa")
        );
    }

    #[test]
    fn nearest_centroid_places_a_point() {
        let areas = Areas::hanoi();
        // Hoan Kiem Lake.
        assert_eq!(
            areas.locate(21.0287, 105.8524).map(|a| a.id.as_str()),
            Ok("hoan-kiem")
        );
        // Noi Bai airport is in Soc Son.
        assert_eq!(
            areas.locate(21.2187, 105.8042).map(|a| a.id.as_str()),
            Ok("soc-son")
        );
    }

    #[test]
    fn points_outside_the_city_are_refused() {
        let areas = Areas::hanoi();
        // Ho Chi Minh City.
        assert!(areas.locate(10.776, 106.700).is_err());
        assert!(areas.locate(f64::NAN, 105.8).is_err());
    }

    #[test]
    fn polygon_wins_over_a_nearer_centroid() {
        let areas = Areas::new(vec![
            Area {
                id: "big".into(),
                name: "Big".into(),
                lat: 21.0,
                lon: 105.0,
                polygon: Some(vec![
                    [104.9, 20.9],
                    [105.3, 20.9],
                    [105.3, 21.1],
                    [104.9, 21.1],
                ]),
            },
            Area {
                id: "small".into(),
                name: "Small".into(),
                lat: 21.0,
                lon: 105.25,
                polygon: None,
            },
        ])
        .expect("valid areas");
        assert_eq!(areas.locate(21.0, 105.24).map(|a| a.id.as_str()), Ok("big"));
    }
}
