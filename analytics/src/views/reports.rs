//! The `reports` and `kpi` views (docs/views.md) and the operator's report detail. A reporter's
//! e-mail and name never appear here and the phone only masked; only the detail for an
//! admin carries them.

use super::ranking::{area_aqi, area_dossiers, ranking_with, scoped_dossiers};
use super::round2;
use crate::dossiers::{DossierKpi, DossierTargets};
use crate::ranking::{RankRow, RankingWeights};
use crate::reports::query::{ReportQuery, statuses_of};
use crate::reports::record::HistoryEntry;
use crate::reports::{Report, ReportKpi, Status, mask_email, mask_phone};
use crate::state::{Reports, State};
use crate::views::{ViewError, ViewRequest};
use ioc_ingest::event::format_ts;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Most items in one `reports` view (newest first); `total` says how many matched.
pub const MAX_VIEW_ITEMS: usize = 500;

/// One report as the views show it (docs/views.md `reports`): no contact except the masked
/// phone. Fields are in the order the JSON shows them.
#[derive(Debug, Clone, Serialize)]
pub struct ReportItem {
    /// The `service_request_id`.
    pub id: String,
    /// Category.
    pub service_code: String,
    /// Internal status.
    pub status: Status,
    /// Area id (or `unplaced`).
    pub area: String,
    /// Latitude, when given.
    pub lat: Option<f64>,
    /// Longitude, when given.
    pub long: Option<f64>,
    /// The citizen's text.
    pub description: Option<String>,
    /// Photo link.
    pub media_url: Option<String>,
    /// Address as the citizen wrote it.
    pub address: Option<String>,
    /// When it was received.
    pub requested_datetime: String,
    /// When it last changed.
    pub updated_datetime: String,
    /// Received + the category's SLA.
    pub expected_datetime: String,
    /// The agency assigned.
    pub agency: Option<String>,
    /// Open past `expected_datetime`.
    pub overdue: bool,
    /// The citizen's rating 1–5, once given.
    pub rating: Option<u8>,
    /// The reporter's phone, masked.
    pub phone: Option<String>,
}

/// The operator API's report: the view item, then notes, attributes, history and the contact.
#[derive(Debug, Clone, Serialize)]
pub struct ReportDetail {
    /// Everything of the view item, as its first members.
    #[serde(flatten)]
    pub item: ReportItem,
    /// Latest operator note.
    pub status_notes: Option<String>,
    /// Category attributes (flood depth …).
    pub attributes: Map<String, Value>,
    /// Every change: time, action, detail, by whom.
    pub history: Vec<HistoryEntry>,
    /// When it was closed.
    pub closed_datetime: Option<String>,
    /// App's device id.
    pub device_id: Option<String>,
    /// App's account id.
    pub account_id: Option<String>,
    /// The reporter's contact, in full or masked.
    pub contact: ReportContact,
}

/// A reporter's contact as the report detail shows it: in full to an admin, else masked and
/// without the name.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum ReportContact {
    /// For an admin: everything the citizen gave.
    Full {
        /// E-mail.
        email: Option<String>,
        /// Phone.
        phone: Option<String>,
        /// First name.
        first_name: Option<String>,
        /// Last name.
        last_name: Option<String>,
    },
    /// For everyone else: e-mail and phone masked, no name.
    Masked {
        /// E-mail, masked.
        email: Option<String>,
        /// Phone, masked.
        phone: Option<String>,
    },
}

/// The `reports` view (docs/views.md): how many reports matched and the newest of them.
#[derive(Debug, Clone, Serialize)]
pub struct ReportsView {
    /// Matching reports.
    pub total: usize,
    /// At most [`MAX_VIEW_ITEMS`] of them, newest first.
    pub items: Vec<ReportItem>,
}

/// The `kpi` view (docs/views.md): report and dossier KPIs of the city, per area and per
/// agency, the ranking and the settings it was computed with.
#[derive(Debug, Clone, Serialize)]
pub struct KpiView {
    /// The city's (or the scope's) KPIs.
    pub city: CityKpi,
    /// Per area (in the scope).
    pub areas: Vec<AreaKpi>,
    /// Per agency that has reports (in the scope).
    pub agencies: Vec<AgencyKpi>,
    /// The ranking rows (in the scope), best first.
    pub ranking: Vec<RankRow>,
    /// Dossier targets.
    pub targets: DossierTargets,
    /// The ranking composite's weights.
    pub ranking_weights: RankingWeights,
    /// Time to resolve per category, hours (two decimals), by category code.
    pub sla_hours: BTreeMap<String, f64>,
}

/// The city's (or the scope's) report and dossier KPIs.
#[derive(Debug, Clone, Serialize)]
pub struct CityKpi {
    /// Report KPIs.
    pub reports: ReportKpi,
    /// Dossier KPIs.
    pub dossiers: DossierKpi,
}

/// One area's KPIs and rank in the `kpi` view.
#[derive(Debug, Clone, Serialize)]
pub struct AreaKpi {
    /// Area slug.
    pub id: String,
    /// Area name.
    pub name: String,
    /// Report KPIs.
    pub reports: ReportKpi,
    /// Dossier KPIs.
    pub dossiers: DossierKpi,
    /// Place in the city-wide ranking.
    pub rank: Option<u32>,
}

/// One agency's report KPIs in the `kpi` view.
#[derive(Debug, Clone, Serialize)]
pub struct AgencyKpi {
    /// Agency name.
    pub agency: String,
    /// Report KPIs of the reports assigned to it.
    pub reports: ReportKpi,
}

/// One report as the views show it: no contact except the masked phone.
pub fn report_item(report: &Report, now_ms: i64) -> ReportItem {
    ReportItem {
        id: report.id.clone(),
        service_code: report.service_code.clone(),
        status: report.status,
        area: report.area.clone(),
        lat: report.lat,
        long: report.lon,
        description: report.description.clone(),
        media_url: report.media_url.clone(),
        address: report.address.clone(),
        requested_datetime: format_ts(report.requested_ms),
        updated_datetime: format_ts(report.updated_ms),
        expected_datetime: format_ts(report.expected_ms),
        agency: report.agency.clone(),
        overdue: report.is_overdue(now_ms),
        rating: report.rating,
        phone: report.phone.as_deref().map(mask_phone),
    }
}

/// The operator API's report: the view item plus history and attributes; the contact in
/// full when `full_contact` (admin), else the phone and e-mail masked and no name.
pub fn report_detail(report: &Report, now_ms: i64, full_contact: bool) -> ReportDetail {
    let contact = if full_contact {
        ReportContact::Full {
            email: report.email.clone(),
            phone: report.phone.clone(),
            first_name: report.first_name.clone(),
            last_name: report.last_name.clone(),
        }
    } else {
        ReportContact::Masked {
            email: report.email.as_deref().map(mask_email),
            phone: report.phone.as_deref().map(mask_phone),
        }
    };
    ReportDetail {
        item: report_item(report, now_ms),
        status_notes: report.status_notes.clone(),
        attributes: report.attributes.clone(),
        history: report.history.clone(),
        closed_datetime: report.closed_ms.map(format_ts),
        device_id: report.device_id.clone(),
        account_id: report.account_id.clone(),
        contact,
    }
}

/// The `reports` view: the queue, filtered by status (`open`, `closed`, `all` or an
/// internal status), area and category.
pub fn reports_view(
    reports: &Reports,
    request: &ViewRequest,
    now_ms: i64,
) -> Result<ReportsView, ViewError> {
    let statuses = match request.status.as_deref() {
        None => Vec::new(),
        Some(name) => statuses_of(name)
            .ok_or_else(|| ViewError::BadRequest(format!("unknown status {name:?}")))?,
    };
    let areas = match (&request.area, &request.scope) {
        (Some(area), _) => vec![area.clone()],
        (None, Some(scope)) if scope.is_empty() => {
            return Ok(ReportsView {
                total: 0,
                items: Vec::new(),
            });
        }
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
    let found = query.run(&reports.register);
    Ok(ReportsView {
        total: found.len(),
        items: found
            .iter()
            .take(MAX_VIEW_ITEMS)
            .map(|report| report_item(report, now_ms))
            .collect(),
    })
}

/// The open reports of one area, for the area view.
pub fn open_reports_of(reports: &Reports, area: &str, now_ms: i64) -> Vec<ReportItem> {
    reports
        .register
        .all()
        .filter(|r| r.area == area && r.status.is_open())
        .take(MAX_VIEW_ITEMS)
        .map(|report| report_item(report, now_ms))
        .collect()
}

/// The report KPIs of the city, or with a scope of the reports in the scope's areas.
pub fn scoped_kpi(reports: &Reports, scope: Option<&[String]>, now_ms: i64) -> ReportKpi {
    let in_scope = |area: &str| scope.is_none_or(|areas| areas.iter().any(|a| a == area));
    ReportKpi::of(reports.register.all().filter(|r| in_scope(&r.area)), now_ms)
}

/// Report KPIs per area id (areas without reports included, with zeros).
pub fn area_kpis(state: &State, now_ms: i64) -> BTreeMap<String, ReportKpi> {
    let mut by_area: BTreeMap<String, Vec<&Report>> = state
        .areas
        .all()
        .iter()
        .map(|area| (area.id.clone(), Vec::new()))
        .collect();
    for report in state.reports.register.all() {
        by_area.entry(report.area.clone()).or_default().push(report);
    }
    by_area
        .into_iter()
        .map(|(area, reports)| (area, ReportKpi::of(reports, now_ms)))
        .collect()
}

/// The `kpi` view: report KPIs per area, per agency and for the city; with a scope, only the
/// scope's areas and the reports in them count.
pub fn kpi_view(state: &State, scope: Option<&[String]>, now_ms: i64) -> KpiView {
    let in_scope = |area: &str| scope.is_none_or(|areas| areas.iter().any(|a| a == area));
    let by_area = area_kpis(state, now_ms);
    let ranked: Vec<RankRow> = ranking_with(state, &area_aqi(state), &by_area)
        .into_iter()
        .filter(|row| in_scope(&row.area))
        .collect();
    let ranks: BTreeMap<&str, u32> = ranked.iter().map(|r| (r.area.as_str(), r.rank)).collect();
    let areas = state
        .areas
        .all()
        .iter()
        .filter(|area| in_scope(&area.id))
        .map(|area| AreaKpi {
            id: area.id.clone(),
            name: area.name.clone(),
            reports: by_area.get(&area.id).cloned().unwrap_or_default(),
            dossiers: area_dossiers(state, &area.id),
            rank: ranks.get(area.id.as_str()).copied(),
        })
        .collect();
    let mut by_agency: BTreeMap<&str, Vec<&Report>> = BTreeMap::new();
    for report in state.reports.register.all().filter(|r| in_scope(&r.area)) {
        if let Some(agency) = report.agency.as_deref() {
            by_agency.entry(agency).or_default().push(report);
        }
    }
    let agencies = by_agency
        .into_iter()
        .map(|(agency, reports)| AgencyKpi {
            agency: agency.to_string(),
            reports: ReportKpi::of(reports, now_ms),
        })
        .collect();
    KpiView {
        city: CityKpi {
            reports: scoped_kpi(&state.reports, scope, now_ms),
            dossiers: scoped_dossiers(state, scope),
        },
        areas,
        agencies,
        targets: state.config.dossier_targets,
        ranking_weights: state.config.ranking_weights,
        sla_hours: state
            .config
            .report_sla_hours()
            .into_iter()
            .map(|(code, hours)| (code, round2(hours)))
            .collect(),
        ranking: ranked,
    }
}
