//! The `reports` and `kpi` views (docs/views.md) and the operator's report detail. A reporter's
//! e-mail and name never appear here and the phone only masked; only the detail for an
//! admin carries them.

use super::ranking::{area_aqi, area_dossiers, ranking_with, scoped_dossiers};
use super::round2;
use crate::ranking::RankRow;
use crate::reports::query::{ReportQuery, statuses_of};
use crate::reports::{Report, ReportKpi, mask_email, mask_phone};
use crate::state::State;
use crate::views::{ViewError, ViewRequest};
use ioc_ingest::event::format_ts;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Most items in one `reports` view (newest first); `total` says how many matched.
pub const MAX_VIEW_ITEMS: usize = 500;

/// One report as the views show it: no contact except the masked phone.
pub fn report_item(report: &Report, now_ms: i64) -> Value {
    json!({
        "id": report.id,
        "service_code": report.service_code,
        "status": report.status,
        "area": report.area,
        "lat": report.lat,
        "long": report.lon,
        "description": report.description,
        "media_url": report.media_url,
        "address": report.address,
        "requested_datetime": format_ts(report.requested_ms),
        "updated_datetime": format_ts(report.updated_ms),
        "expected_datetime": format_ts(report.expected_ms),
        "agency": report.agency,
        "overdue": report.is_overdue(now_ms),
        "rating": report.rating,
        "phone": report.phone.as_deref().map(mask_phone),
    })
}

/// The operator API's report: the view item plus history and attributes; the contact in
/// full when `full_contact` (admin), else the phone and e-mail masked and no name.
pub fn report_detail(report: &Report, now_ms: i64, full_contact: bool) -> Value {
    let mut item = report_item(report, now_ms);
    if let Value::Object(map) = &mut item {
        map.insert("status_notes".into(), json!(report.status_notes));
        map.insert(
            "attributes".into(),
            Value::Object(report.attributes.clone()),
        );
        map.insert("history".into(), json!(report.history));
        map.insert(
            "closed_datetime".into(),
            json!(report.closed_ms.map(format_ts)),
        );
        map.insert("device_id".into(), json!(report.device_id));
        map.insert("account_id".into(), json!(report.account_id));
        let contact = if full_contact {
            json!({
                "email": report.email,
                "phone": report.phone,
                "first_name": report.first_name,
                "last_name": report.last_name,
            })
        } else {
            json!({
                "email": report.email.as_deref().map(mask_email),
                "phone": report.phone.as_deref().map(mask_phone),
            })
        };
        map.insert("contact".into(), contact);
    }
    item
}

/// The `reports` view: the queue, filtered by status (`open`, `closed`, `all` or an
/// internal status), area and category.
pub fn reports_view(state: &State, request: &ViewRequest, now_ms: i64) -> Result<Value, ViewError> {
    let statuses = match request.status.as_deref() {
        None => Vec::new(),
        Some(name) => statuses_of(name)
            .ok_or_else(|| ViewError::BadRequest(format!("unknown status {name:?}")))?,
    };
    let areas = match (&request.area, &request.scope) {
        (Some(area), _) => vec![area.clone()],
        (None, Some(scope)) if scope.is_empty() => return Ok(json!({"total": 0, "items": []})),
        (None, Some(scope)) => scope.clone(),
        (None, None) => Vec::new(),
    };
    let query = ReportQuery {
        statuses,
        areas,
        service_codes: request.service_code.iter().cloned().collect(),
        limit: usize::MAX,
        ..ReportQuery::default()
    };
    let found = query.run(&state.reports);
    let items: Vec<Value> = found
        .iter()
        .take(MAX_VIEW_ITEMS)
        .map(|report| report_item(report, now_ms))
        .collect();
    Ok(json!({ "total": found.len(), "items": items }))
}

/// The open reports of one area, for the area view.
pub fn open_reports_of(state: &State, area: &str, now_ms: i64) -> Vec<Value> {
    state
        .reports
        .all()
        .filter(|r| r.area == area && r.status.is_open())
        .take(MAX_VIEW_ITEMS)
        .map(|report| report_item(report, now_ms))
        .collect()
}

/// The report KPIs of the city, or with a scope of the reports in the scope's areas.
pub fn scoped_kpi(state: &State, scope: Option<&[String]>, now_ms: i64) -> ReportKpi {
    let in_scope = |area: &str| scope.is_none_or(|areas| areas.iter().any(|a| a == area));
    ReportKpi::of(state.reports.all().filter(|r| in_scope(&r.area)), now_ms)
}

/// Report KPIs per area id (areas without reports included, with zeros).
pub fn area_kpis(state: &State, now_ms: i64) -> BTreeMap<String, ReportKpi> {
    let mut by_area: BTreeMap<String, Vec<&Report>> = state
        .areas
        .all()
        .iter()
        .map(|area| (area.id.clone(), Vec::new()))
        .collect();
    for report in state.reports.all() {
        by_area.entry(report.area.clone()).or_default().push(report);
    }
    by_area
        .into_iter()
        .map(|(area, reports)| (area, ReportKpi::of(reports, now_ms)))
        .collect()
}

/// The `kpi` view: report KPIs per area, per agency and for the city; with a scope, only the
/// scope's areas and the reports in them count.
pub fn kpi_view(state: &State, scope: Option<&[String]>, now_ms: i64) -> Value {
    let in_scope = |area: &str| scope.is_none_or(|areas| areas.iter().any(|a| a == area));
    let by_area = area_kpis(state, now_ms);
    let ranked: Vec<RankRow> = ranking_with(state, &area_aqi(state), &by_area)
        .into_iter()
        .filter(|row| in_scope(&row.area))
        .collect();
    let ranks: BTreeMap<&str, u32> = ranked.iter().map(|r| (r.area.as_str(), r.rank)).collect();
    let areas: Vec<Value> = state
        .areas
        .all()
        .iter()
        .filter(|area| in_scope(&area.id))
        .map(|area| {
            json!({
                "id": area.id,
                "name": area.name,
                "reports": by_area.get(&area.id).cloned().unwrap_or_default(),
                "dossiers": area_dossiers(state, &area.id),
                "rank": ranks.get(area.id.as_str()).copied(),
            })
        })
        .collect();
    let mut by_agency: BTreeMap<&str, Vec<&Report>> = BTreeMap::new();
    for report in state.reports.all().filter(|r| in_scope(&r.area)) {
        if let Some(agency) = report.agency.as_deref() {
            by_agency.entry(agency).or_default().push(report);
        }
    }
    let agencies: Vec<Value> = by_agency
        .into_iter()
        .map(|(agency, reports)| json!({"agency": agency, "reports": ReportKpi::of(reports, now_ms)}))
        .collect();
    let city = scoped_kpi(state, scope, now_ms);
    json!({
        "city": { "reports": city, "dossiers": scoped_dossiers(state, scope) },
        "areas": areas,
        "agencies": agencies,
        "ranking": ranked,
        "targets": state.config.dossier_targets,
        "ranking_weights": state.config.ranking_weights,
        "sla_hours": state
            .config
            .report_sla_hours()
            .into_iter()
            .map(|(code, hours)| (code, json!(round2(hours))))
            .collect::<serde_json::Map<String, Value>>(),
    })
}
