//! What the analytics tests share: a simulated city hour decoded as the engine decodes it, and
//! every view an operator can ask for.

use ioc_analytics::{Analytics, ViewRequest};
use ioc_ingest::intake::{DEFAULT_MAX_PAYLOAD_BYTES, Intake};
use ioc_ingest::journal::Entry;
use ioc_ingest::topic::TopicScheme;
use ioc_ingest::validate::Validator;
use ioc_ingest::{Areas, Event};
use serde_json::Value;
use std::sync::Arc;

/// 2026-11-22T09:00:00Z, the end of the simulated hour.
pub const NOW: i64 = 1_795_338_000_000;

/// `events` messages of the simulated city (seeded by `seed`) spread over the hour before
/// [`NOW`], decoded as the engine decodes them; refusals left out.
pub fn city_hour(areas: &Arc<Areas>, seed: u64, events: usize) -> Vec<Event> {
    let intake = Intake::new(
        TopicScheme::new("city"),
        Validator::new(Arc::clone(areas)),
        DEFAULT_MAX_PAYLOAD_BYTES,
    );
    let mut city = ioc_sim::City::new(seed, (**areas).clone());
    let step = 3_600_000.0 / events as f64;
    city.events(NOW - 3_600_000, step)
        .take(events)
        .flat_map(|event| intake.classify(&event.topic, &event.payload_bytes(), NOW))
        .filter_map(|entry| match entry {
            Entry::Event(event) => Some(event),
            Entry::Rejected(_) => None,
        })
        .collect()
}

/// Every view an operator can ask for at [`NOW`], serialized: overview, kpi, alerts, reports,
/// then each area's.
pub fn all_views(analytics: &Analytics, areas: &Areas) -> Vec<String> {
    let mut requests = ["overview", "kpi", "alerts", "reports"]
        .iter()
        .map(|name| ViewRequest::parse(name, None, None, None).expect("view"))
        .collect::<Vec<_>>();
    for area in areas.all() {
        requests.push(ViewRequest::parse("area", Some(area.id.clone()), None, None).expect("area"));
    }
    requests
        .iter()
        .map(|request| {
            let view: Value = analytics.view(request, NOW).expect("view");
            serde_json::to_string(&view).expect("JSON")
        })
        .collect()
}
