// The wall: KPI tiles, the ranking, the live alert feed and the report queue. Each render
// replaces a list's rows (bounded by a cap) and changes tile texts in place, so the DOM does
// not grow with hours of updates.

import { el, setText, $ } from "./dom.js";
import { t, clock, ago, CATEGORIES, lang } from "./i18n.js";
import { aqiBand, SEVERITY_ORDER } from "./map.js";

const MAX_ALERT_ROWS = 40;
const MAX_REPORT_ROWS = 60;
const MAX_RANK_ROWS = 30;
const OPEN_STATES = ["received", "assigned", "in_progress"];
const NEXT_STATES = ["in_progress", "resolved", "rejected", "duplicate"];

/** KPI tiles: each `[data-kpi]` text is exactly the overview's value (empty when none). */
export function renderKpis(overview, alertsView) {
  const reports = overview.reports || {};
  const values = {
    events_total: overview.events_total,
    events_per_sec: overview.events_per_sec,
    alerts_active: overview.alerts_active,
    reports_open: reports.open,
    reports_overdue: reports.overdue,
    reports_on_time_pct: reports.resolved_on_time_pct,
    satisfaction: reports.rating_avg,
  };
  for (const [name, value] of Object.entries(values)) {
    const tile = $(`[data-kpi="${name}"]`);
    if (tile) setText(tile, value);
  }
  $("#tile-overdue").classList.toggle("bad", (reports.overdue || 0) > 0);
  $("#tile-alerts").classList.toggle("bad", (overview.alerts_active || 0) > 0);
  const bySeverity = (alertsView && alertsView.open_by_severity) || {};
  const chips = SEVERITY_ORDER.filter((s) => bySeverity[s] > 0)
    .map((s) => el("span", { class: `chip sev-${s}` }, `${bySeverity[s]} ${t(`severity_${s}`)}`));
  $("#alert-chips").replaceChildren(...chips);
  const kpi = overview.kpi || {};
  const targets = kpi.targets || {};
  const meets = kpi.meets_target || {};
  const rows = [["online_pct", "dossier_online", kpi.dossiers_online_pct], ["level4_pct", "dossier_level4", kpi.dossiers_level4_pct],
    ["on_time_pct", "dossier_on_time", kpi.dossiers_on_time_pct]];
  $("#dossiers").replaceChildren(...rows.map(([key, label, value]) => el("div", {
    class: value === null || value === undefined ? "dossier" : meets[key] ? "dossier ok" : "dossier bad",
    "data-dossier": key,
  }, el("b", {}, value === null || value === undefined ? "–" : `${Math.round(value)}%`),
  el("small", {}, `${t(label)} · ${t("target")} ${targets[key] ?? "–"}%`))));
}

/** The ranking, best first, each line with its AQI chip; the last three marked. */
export function renderRanking(areas, openArea) {
  const ranked = areas.filter((a) => a.rank !== null && a.rank !== undefined).sort((a, b) => a.rank - b.rank).slice(0, MAX_RANK_ROWS);
  const lastRank = ranked.length ? ranked[ranked.length - 1].rank : 0;
  $("#ranking").replaceChildren(...ranked.map((a) => el("li", {
    class: a.rank > lastRank - 3 ? "worst" : "",
    "data-rank-area": a.id,
    onclick: () => openArea(a.id),
  }, el("span", { class: "rk" }, String(a.rank)), el("span", { class: "nm" }, a.name),
  a.aqi === null || a.aqi === undefined ? el("span", { class: "aqi none" }, "–")
    : el("span", { class: "aqi", style: `background:${aqiBand(a.aqi).color}` }, String(a.aqi)))));
}

/** Alert rows sorted by state (new first), severity, then newest. */
function sortAlerts(items) {
  const state = (a) => (a.state === "active" ? 0 : 1);
  return [...items].filter((a) => a.state !== "resolved").sort((a, b) => state(a) - state(b)
    || SEVERITY_ORDER.indexOf(a.severity) - SEVERITY_ORDER.indexOf(b.severity)
    || String(b.raised_at).localeCompare(String(a.raised_at)));
}

const seenAlerts = new Set();

/** Alert rows `[data-alert]` into `list`; buttons only for operators and admins. */
export function renderAlerts(list, items, ctx) {
  const rows = sortAlerts(items).slice(0, MAX_ALERT_ROWS);
  if (rows.length === 0) {
    list.replaceChildren(el("li", { class: "empty" }, t("alerts_empty")));
    return;
  }
  list.replaceChildren(...rows.map((alert) => {
    const fresh = !seenAlerts.has(alert.id);
    seenAlerts.add(alert.id);
    const who = alert.acked_by
      ? el("div", { class: "who" }, t("acked_by", alert.acked_by, alert.acked_at ? clock(new Date(alert.acked_at)) : "")) : null;
    const actions = ctx.canAct ? el("div", { class: "actions" },
      alert.state === "active" ? el("button", { "data-action": "ack", onclick: () => ctx.alertAction(alert.id, "ack") }, t("ack")) : null,
      el("button", { "data-action": "resolve", onclick: () => ctx.alertAction(alert.id, "resolve") }, t("resolve"))) : null;
    return el("li", { class: `alert sev-${alert.severity} ${alert.state}${fresh && ctx.started ? " fresh" : ""}`, "data-alert": alert.id },
      el("div", { class: "head" },
        el("span", { class: `badge sev-${alert.severity}` }, t(`severity_${alert.severity}`)),
        el("span", { class: "area" }, ctx.areaName(alert.area)),
        el("span", { class: "time" }, `${clock(new Date(alert.raised_at))} · ${t(`state_${alert.state}`)}`),
        actions),
      el("div", { class: "msg" }, alert.message || alert.rule),
      who);
  }));
}

/** Report rows `[data-report]`: overdue first, then by due time; description as text. */
export function renderReports(list, items, ctx) {
  // Not while an operator is typing an agency, choosing a status or pressing a button in a
  // row: the list is redrawn once the focus has left it.
  if (list.contains(document.activeElement) && /^(INPUT|SELECT|BUTTON)$/.test(document.activeElement.tagName)) {
    if (!list.dataset.deferred) {
      list.dataset.deferred = "1";
      list.addEventListener("focusout", () => {
        delete list.dataset.deferred;
        setTimeout(() => renderReports(list, list.latest || [], ctx), 300);
      }, { once: true });
    }
    list.latest = items;
    return;
  }
  list.latest = items;
  const rows = [...items].sort((a, b) => Number(b.overdue) - Number(a.overdue)
    || String(a.expected_datetime).localeCompare(String(b.expected_datetime))).slice(0, MAX_REPORT_ROWS);
  if (rows.length === 0) {
    list.replaceChildren(el("li", { class: "empty" }, t("reports_empty")));
    return;
  }
  const now = Date.now();
  list.replaceChildren(...rows.map((report) => {
    const due = new Date(report.expected_datetime);
    const category = CATEGORIES[report.service_code];
    const open = OPEN_STATES.includes(report.status);
    let actions = null;
    if (ctx.canAct && open) {
      const agency = el("input", { class: "agency", placeholder: t("agency"), value: report.agency || "", "aria-label": t("agency") });
      const status = el("select", { "aria-label": t("filter_status") },
        ...NEXT_STATES.map((s) => el("option", { value: s }, t(`status_${s}`))));
      actions = el("div", { class: "actions" },
        agency, el("button", { "data-action": "assign", onclick: () => ctx.reportAction(report.id, "assign", { agency: agency.value.trim() }) }, t("assign")),
        status, el("button", { "data-action": "status", onclick: () => ctx.reportAction(report.id, "status", { status: status.value }) }, t("set_status")));
    }
    return el("li", { class: `report${report.overdue ? " overdue" : ""}`, "data-report": report.id },
      el("div", { class: "head" },
        report.overdue ? el("span", { class: "badge overdue" }, t("overdue")) : null,
        el("span", { class: "cat" }, category ? category[lang()] : report.service_code),
        el("span", { class: "area" }, ctx.areaName(report.area)),
        el("span", { class: "status" }, t(`status_${report.status}`)),
        el("span", { class: "time" }, `${t("due")} ${clock(due)}${due < now ? "" : ` (${ago((due - now) / 1000)})`}`)),
      el("div", { class: "desc" }, report.description || ""),
      el("div", { class: "agency-line" }, `${t("agency")}: ${report.agency || t("no_agency")}`),
      actions);
  }));
}

/** Fills the report filters' options (areas in scope, categories) keeping the choices. */
export function fillReportFilters(areas) {
  const status = $("#f-status");
  const keep = status.value || "open";
  status.replaceChildren(...["open", ...OPEN_STATES, "closed", "all"].map((s) => el("option", { value: s }, s === "all" ? t("all") : t(`status_${s}`))));
  status.value = keep;
  const area = $("#f-area");
  const keepArea = area.value;
  area.replaceChildren(el("option", { value: "" }, t("all")), ...areas.map((a) => el("option", { value: a.id }, a.name)));
  area.value = keepArea;
  const category = $("#f-category");
  const keepCategory = category.value;
  category.replaceChildren(el("option", { value: "" }, t("all")),
    ...Object.entries(CATEGORIES).map(([code, names]) => el("option", { value: code }, names[lang()])));
  category.value = keepCategory;
}

/** The reports subscription's filters from the form. */
export function reportFilters() {
  const params = { view: "reports", status: $("#f-status").value || "open" };
  if ($("#f-area").value) params.area = $("#f-area").value;
  if ($("#f-category").value) params.service_code = $("#f-category").value;
  return params;
}

export { setText };
