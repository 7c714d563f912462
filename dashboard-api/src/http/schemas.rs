//! The shapes of the API's JSON bodies, for the OpenAPI document (`GET /api/openapi.json`).
//!
//! The handlers build their answers from the analytics' own types and views; these types
//! describe those answers for client generators. They are never built: the end-to-end test
//! `tests/tests/openapi.rs` validates real answers of a running engine against the generated
//! schemas, so a field that changes in the code without changing here fails that test.
//! Objects are open (more fields may appear); the fields listed are always there.

#![allow(dead_code)]

use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;
use utoipa::openapi::schema::{AnyOfBuilder, ArrayBuilder, Schema};
use utoipa::openapi::{Ref, RefOr};

/// An error answer of the operator API.
#[derive(Serialize, ToSchema)]
pub(crate) struct ApiErrorBody {
    /// What went wrong, for a person.
    error: String,
    /// The HTTP status again.
    status: u16,
}

/// How urgent an alert is.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Severity {
    /// Life or property at risk now.
    Critical,
    /// Needs an operator soon.
    Major,
    /// Worth a look.
    Minor,
    /// Informational.
    Warning,
}

/// Where an alert is in its lifecycle.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum AlertState {
    /// Raised, nobody has taken it yet.
    Active,
    /// An operator has taken it.
    Acknowledged,
    /// Over.
    Resolved,
}

/// One alert.
#[derive(Serialize, ToSchema)]
pub(crate) struct Alert {
    /// Stable id, `AL-<raised ms>-<hash>`.
    id: String,
    /// The rule that raised it.
    rule: String,
    /// The rule's type (`threshold`, `rate_of_change`, `stale`, `report_burst`, `anomaly`).
    #[serde(rename = "type")]
    rule_type: String,
    /// How urgent.
    severity: Severity,
    /// Lifecycle state.
    state: AlertState,
    /// A source id, an area id or a report cluster.
    subject: String,
    /// Area it belongs to.
    area: String,
    /// The sensor, for sensor rules.
    source: Option<String>,
    /// The metric watched.
    metric: String,
    /// The value that raised it.
    value: Option<f64>,
    /// The limit it crossed.
    threshold: Option<f64>,
    /// Vietnamese text for the operator.
    message: String,
    /// Latitude, for alerts with a place.
    lat: Option<f64>,
    /// Longitude, for alerts with a place.
    long: Option<f64>,
    /// Raised at, RFC 3339.
    raised_at: String,
    /// Who acknowledged it.
    acked_by: Option<String>,
    /// When it was acknowledged.
    acked_at: Option<String>,
    /// When it was resolved.
    resolved_at: Option<String>,
    /// Who resolved it; null when its condition cleared.
    resolved_by: Option<String>,
    /// The value when it cleared.
    resolved_value: Option<f64>,
}

/// `GET /api/alerts`.
#[derive(Serialize, ToSchema)]
pub(crate) struct AlertList {
    /// How many alerts matched.
    total: u64,
    /// The alerts, newest first.
    items: Vec<Alert>,
}

/// One refused message.
#[derive(Serialize, ToSchema)]
pub(crate) struct DeadLetter {
    /// Journal sequence number.
    seq: i64,
    /// When it was refused, RFC 3339.
    at: String,
    /// The counted reason (`bad_json`, `wrong_type`, `unknown_area`, `too_large`, …).
    reason: String,
    /// What exactly was wrong.
    detail: String,
    /// MQTT topic, or `http:<path>`.
    topic: String,
    /// The start of the payload as text.
    payload: String,
    /// The payload's full size.
    payload_bytes: u64,
}

/// `GET /api/deadletter`.
#[derive(Serialize, ToSchema)]
pub(crate) struct DeadLetters {
    /// Refused messages since the journal began.
    total: u64,
    /// The same by reason.
    by_reason: BTreeMap<String, u64>,
    /// The newest records.
    items: Vec<DeadLetter>,
}

/// An area in the overview.
#[derive(Serialize, ToSchema)]
pub(crate) struct OverviewArea {
    /// Area id (`hoan-kiem`).
    id: String,
    /// Its name.
    name: String,
    /// Events so far per kind.
    counts: BTreeMap<String, u64>,
    /// VN_AQI now, when the area has air-quality stations.
    aqi: Option<f64>,
    /// Open alerts in the area.
    alerts_active: u64,
}

/// The `overview` view: the city at a glance.
#[derive(Serialize, ToSchema)]
pub(crate) struct OverviewView {
    /// Events journaled so far.
    events_total: u64,
    /// Ingest rate over the last seconds.
    events_per_sec: f64,
    /// Events that came later than the allowed lateness.
    late_total: u64,
    /// Messages refused.
    rejected_total: u64,
    /// Refusals by reason.
    rejected_by_reason: BTreeMap<String, u64>,
    /// Event time up to which windows are final, RFC 3339; null before any event.
    watermark: Option<String>,
    /// Every area (the token's areas when it is scoped).
    areas: Vec<OverviewArea>,
    /// Report and dossier indicators.
    kpi: serde_json::Value,
}

/// The `area` view: the area's summary (as in the overview) with its sources and windows.
#[derive(Serialize, ToSchema)]
pub(crate) struct AreaView {
    /// Area id.
    id: String,
    /// Its name.
    name: String,
    /// Events so far per kind.
    counts: BTreeMap<String, u64>,
    /// Its sensors with their last values and staleness.
    sources: Vec<serde_json::Value>,
    /// Recent values per metric, for charts.
    series: BTreeMap<String, serde_json::Value>,
    /// 1/5/15/60-minute windows per metric.
    windows: BTreeMap<String, serde_json::Value>,
}

/// The `alerts` view.
#[derive(Serialize, ToSchema)]
pub(crate) struct AlertsView {
    /// Open alerts first, then recent ones.
    items: Vec<Alert>,
    /// How many are open.
    open: u64,
    /// Open alerts by severity.
    open_by_severity: BTreeMap<String, u64>,
}

/// A report as lists and views show it: contact masked.
#[derive(Serialize, ToSchema)]
pub(crate) struct ReportItem {
    /// Report id (the Open311 `service_request_id`).
    id: String,
    /// Category.
    service_code: String,
    /// Internal status (`new`, `assigned`, `in_progress`, `resolved`, …).
    status: String,
    /// Area it lies in.
    area: String,
    /// Latitude, when the report has a place.
    lat: Option<f64>,
    /// Longitude.
    long: Option<f64>,
    /// The citizen's text.
    description: Option<String>,
    /// Posted at, RFC 3339.
    requested_datetime: String,
    /// Last change, RFC 3339.
    updated_datetime: String,
    /// Due by, RFC 3339.
    expected_datetime: String,
    /// Agency it was dispatched to.
    agency: Option<String>,
    /// Whether it is past due.
    overdue: bool,
    /// The citizen's rating, 1–5.
    rating: Option<i64>,
    /// The reporter's phone, masked (`09******78`).
    phone: Option<String>,
}

/// The `reports` view.
#[derive(Serialize, ToSchema)]
pub(crate) struct ReportsView {
    /// How many reports matched.
    total: u64,
    /// The newest of them.
    items: Vec<ReportItem>,
}

/// The `kpi` view: report and dossier indicators for the city, per area and per agency, and
/// the area ranking.
#[derive(Serialize, ToSchema)]
pub(crate) struct KpiView {
    /// City-wide report and dossier indicators.
    city: serde_json::Value,
    /// Indicators per area.
    areas: Vec<serde_json::Value>,
    /// Report indicators per agency.
    agencies: Vec<serde_json::Value>,
    /// Areas ranked by the weighted score.
    ranking: Vec<serde_json::Value>,
    /// Dossier targets, percent.
    targets: serde_json::Value,
}

/// The data of a live view: which one depends on the `view` path parameter (any of the five
/// view schemas).
pub(crate) struct ViewData;

impl utoipa::PartialSchema for ViewData {
    fn schema() -> RefOr<Schema> {
        [
            "OverviewView",
            "AreaView",
            "AlertsView",
            "ReportsView",
            "KpiView",
        ]
        .into_iter()
        .fold(AnyOfBuilder::new(), |any, name| {
            any.item(Ref::from_schema_name(name))
        })
        .description(Some("The view's data; its shape depends on the view."))
        .into()
    }
}

impl ToSchema for ViewData {}

/// The contact of a report's reporter: masked, or in full for an admin.
#[derive(Serialize, ToSchema)]
pub(crate) struct Contact {
    /// E-mail.
    email: Option<String>,
    /// Phone.
    phone: Option<String>,
}

/// `GET /api/reports/{id}`: the report with its history.
#[derive(Serialize, ToSchema)]
pub(crate) struct ReportDetail {
    /// The list fields.
    #[serde(flatten)]
    item: ReportItem,
    /// Notes of the last status change.
    status_notes: Option<String>,
    /// Category attributes (water depth, …).
    attributes: BTreeMap<String, serde_json::Value>,
    /// Every change, oldest first.
    history: Vec<serde_json::Value>,
    /// When it was closed.
    closed_datetime: Option<String>,
    /// The reporter's contact.
    contact: Contact,
}

/// `POST /api/reports/{id}/{action}` body: `agency` for `assign`, `status` for `status`,
/// `rating` for `rate`; a note with any.
#[derive(Serialize, ToSchema)]
pub(crate) struct ReportChange {
    /// `assign`: the agency dispatched to.
    agency: Option<String>,
    /// `status`: `in_progress`, `resolved`, `rejected` or `duplicate`.
    status: Option<String>,
    /// `rate`: the citizen's rating, 1–5.
    #[schema(minimum = 1, maximum = 5)]
    rating: Option<i64>,
    /// A note for the history.
    #[schema(max_length = 2000)]
    note: Option<String>,
}

/// One bucket of a history answer.
#[derive(Serialize, ToSchema)]
pub(crate) struct HistoryPoint {
    /// Bucket start, RFC 3339.
    ts: String,
    /// Readings in the bucket.
    count: u64,
    /// Their mean.
    mean: Option<f64>,
    /// Their minimum.
    min: Option<f64>,
    /// Their maximum.
    max: Option<f64>,
}

/// `GET /api/history`.
#[derive(Serialize, ToSchema)]
pub(crate) struct HistoryAnswer {
    /// The area, or null for the whole city.
    area: Option<String>,
    /// `kind.field`.
    field: String,
    /// Bucket width.
    every: String,
    /// Range start, RFC 3339.
    from: String,
    /// Range end, RFC 3339.
    to: String,
    /// The buckets.
    points: Vec<HistoryPoint>,
}

/// `POST /api/history/compact`.
#[derive(Serialize, ToSchema)]
pub(crate) struct CompactAnswer {
    /// Events moved.
    events: u64,
    /// Rows written.
    rows: u64,
    /// Parquet files written.
    files: Vec<String>,
    /// Leftover files removed.
    removed_orphans: u64,
    /// Events older than this were moved, RFC 3339.
    cutoff: String,
}

/// `GET /healthz`.
#[derive(Serialize, ToSchema)]
pub(crate) struct Health {
    /// `ok`.
    status: String,
}

/// `GET /readyz`.
#[derive(Serialize, ToSchema)]
pub(crate) struct Ready {
    /// Whether every check passes.
    ready: bool,
    /// Each check (`journal`, `broker`, `replay`).
    checks: BTreeMap<String, bool>,
}

/// An Open311 error (the answer is a list of them).
#[derive(Serialize, ToSchema)]
pub(crate) struct Open311Error {
    /// The HTTP status.
    code: u16,
    /// What went wrong.
    description: String,
}

/// An Open311 service (report category).
#[derive(Serialize, ToSchema)]
pub(crate) struct Service {
    /// Category code.
    service_code: String,
    /// Its name.
    service_name: String,
    /// What it covers.
    description: String,
    /// Whether it has attributes (`services/{code}`).
    metadata: bool,
    /// Always `realtime`.
    #[serde(rename = "type")]
    kind: String,
    /// Search words.
    keywords: String,
    /// Group of categories.
    group: String,
}

/// An attribute of a service definition.
#[derive(Serialize, ToSchema)]
pub(crate) struct ServiceAttribute {
    /// Whether the citizen fills it.
    variable: bool,
    /// Attribute code (`attribute[code]` in a POST).
    code: String,
    /// `number`, `string`, …
    datatype: String,
    /// Whether a POST must carry it.
    required: bool,
    /// Allowed range, for people.
    datatype_description: String,
    /// Display order.
    order: u32,
    /// What it is.
    description: String,
}

/// `GET /open311/v2/services/{code}.json`.
#[derive(Serialize, ToSchema)]
pub(crate) struct ServiceDefinition {
    /// Category code.
    service_code: String,
    /// Its attributes.
    attributes: Vec<ServiceAttribute>,
}

/// A service request (report) as Open311 shows it.
#[derive(Serialize, ToSchema)]
pub(crate) struct ServiceRequest {
    /// Report id.
    service_request_id: String,
    /// `open` or `closed`.
    status: String,
    /// Category code.
    service_code: String,
    /// The citizen's text.
    description: Option<String>,
    /// Agency dispatched to.
    agency_responsible: Option<String>,
    /// Posted at, RFC 3339.
    requested_datetime: String,
    /// Last change, RFC 3339.
    updated_datetime: String,
    /// Due by, RFC 3339.
    expected_datetime: Option<String>,
    /// Latitude.
    lat: Option<f64>,
    /// Longitude.
    long: Option<f64>,
}

/// The answer to a posted report (a list of one).
#[derive(Serialize, ToSchema)]
pub(crate) struct ServiceRequestCreated {
    /// The new report's id.
    service_request_id: String,
    /// What the citizen should know (expected time to resolve).
    service_notice: Option<String>,
}

/// A posted report: form-encoded or JSON, Open311 field names.
#[derive(Serialize, ToSchema)]
pub(crate) struct ServiceRequestPost {
    /// The app's key.
    api_key: String,
    /// Category code.
    service_code: String,
    /// Latitude (or `address_string`).
    lat: Option<f64>,
    /// Longitude.
    long: Option<f64>,
    /// Where, as text.
    address_string: Option<String>,
    /// What happened.
    description: Option<String>,
    /// Reporter's e-mail (never shown in views).
    email: Option<String>,
    /// Reporter's phone (masked in views).
    phone: Option<String>,
    /// A photo URL.
    media_url: Option<String>,
}

/// The Open311 discovery document.
#[derive(Serialize, ToSchema)]
pub(crate) struct Discovery {
    /// Last change of the endpoint list.
    changeset: String,
    /// Who runs it.
    contact: String,
    /// How to get an API key.
    key_service: String,
    /// The GeoReport v2 endpoints.
    endpoints: Vec<serde_json::Value>,
}

/// `GET /open311/v2/services.json` or `requests.json`: a list of services or of service
/// requests, by the file asked for.
pub(crate) struct Open311List;

impl utoipa::PartialSchema for Open311List {
    fn schema() -> RefOr<Schema> {
        ["Service", "ServiceRequest"]
            .into_iter()
            .fold(AnyOfBuilder::new(), |any, name| {
                any.item(ArrayBuilder::new().items(Ref::from_schema_name(name)))
            })
            .description(Some(
                "Services for `services.*`, service requests for `requests.*`.",
            ))
            .into()
    }
}

impl ToSchema for Open311List {}
