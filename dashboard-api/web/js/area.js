// The area view (`#/area/<slug>`): headline figures, every source with its last values, age
// and stale marker, a 60-minute chart per field, and the area's open reports and alerts.

import { el, svg, setText, $ } from "./dom.js";
import { t, ago } from "./i18n.js";
import { aqiBand } from "./map.js";
import { renderAlerts, renderReports } from "./wall.js";

const MINUTE = 60000;
// Threshold fields drawn as lines on the level chart, not as charts of their own.
const NOT_CHARTED = new Set(["alert_cm", "danger_cm", "congested"]);
// Charts in the order an operator looks for them; other fields follow alphabetically.
const ORDER = ["pm25", "pm10", "level_cm", "speed", "intensity", "occupancy", "laeq", "lamax", "no2", "o3", "co", "so2", "temperature", "humidity"];
const UNITS = { pm25: "µg/m³", pm10: "µg/m³", no2: "µg/m³", o3: "µg/m³", co: "µg/m³", so2: "µg/m³", temperature: "°C",
  humidity: "", speed: "km/h", intensity: "xe/ph", occupancy: "", level_cm: "cm", laeq: "dB(A)", lamax: "dB(A)" };

/** The open area view: its subscription, history points and rendering. */
export class AreaView {
  constructor(root, live, ctx, slug) {
    this.root = root;
    this.live = live;
    this.ctx = ctx;
    this.slug = slug;
    this.data = null;
    this.history = new Map();
    this.charts = new Map();
    root.replaceChildren(
      el("div", { class: "area-head" },
        el("a", { href: "#/", class: "back", "data-back": "" }, t("back")),
        el("h2", { id: "area-name" }, ctx.areaName(slug)),
        el("div", { id: "area-figures", class: "figures" })),
      el("div", { id: "area-error", class: "notice" }),
      el("div", { class: "area-grid" },
        el("section", { class: "panel charts-panel" }, el("h3", {}, t("charts")), el("div", { id: "charts", class: "charts" })),
        el("section", { class: "panel" }, el("h3", {}, t("area_alerts")), el("ul", { id: "area-alerts", class: "feed" }),
          el("h3", {}, t("open_reports")), el("ul", { id: "area-reports", class: "queue" })),
        el("section", { class: "panel sources-panel" }, el("h3", {}, t("sources")),
          el("table", { class: "sources" },
            el("thead", {}, el("tr", {}, el("th", {}, t("source")), el("th", {}, t("kind")), el("th", {}, t("last_values")), el("th", {}, t("age_col")))),
            el("tbody", { id: "sources" })))));
    const handler = (message) => {
      this.data = message.data;
      this.render();
      if (message.kind === "snapshot" && this.history.size === 0) this.loadHistory();
    };
    handler.onError = (frame) => setText($("#area-error"), frame.code === "forbidden" ? t("area_forbidden") : frame.message);
    live.subscribe("area", { view: "area", area: slug }, handler);
    this.clock = setInterval(() => this.renderSources(), 1000);
  }

  /** Leaves the view: ends the subscription and empties the DOM. */
  close() {
    clearInterval(this.clock);
    this.live.unsubscribe("area");
    this.root.replaceChildren();
  }

  /** Fills the hour from `/api/history` for fields whose minutes the live windows lack
   * (after a restart the windows start empty while the archive still has the readings). */
  async loadHistory() {
    const from = new Date(Date.now() - 60 * MINUTE).toISOString();
    const kinds = new Map();
    for (const source of this.data.sources || []) {
      for (const field of Object.keys(source.values || {})) if (!NOT_CHARTED.has(field)) kinds.set(field, source.kind);
    }
    await Promise.all([...kinds].map(async ([field, kind]) => {
      const query = new URLSearchParams({ area: this.slug, field: `${kind}.${field}`, from, every: "1m" });
      const answer = await this.ctx.api(`/api/history?${query}`).catch(() => null);
      if (answer && Array.isArray(answer.points)) {
        this.history.set(field, answer.points.filter((p) => p.mean !== null).map((p) => [Date.parse(p.ts), p.mean]));
      }
    }));
    this.render();
  }

  render() {
    const d = this.data;
    if (!d) return;
    setText($("#area-name"), d.name);
    const band = d.aqi === null || d.aqi === undefined ? null : aqiBand(d.aqi);
    const figure = (label, value, style) => el("div", { class: "figure", style }, el("b", {}, value === null || value === undefined ? "–" : value), el("span", {}, label));
    const num = (v, digits, unit) => (v === null || v === undefined ? null : `${Number(v).toFixed(digits)}${unit}`);
    $("#area-figures").replaceChildren(
      figure(band ? `${t("aqi")} · ${band[this.ctx.lang()]}` : t("aqi"), d.aqi, band ? `background:${band.color};color:#111` : ""),
      figure(t("pm25"), num(d.pm25_1h, 1, " µg/m³")),
      figure(t("speed"), num(d.traffic_speed_5m, 0, " km/h")),
      figure(t("congestion"), d.congestion === null || d.congestion === undefined ? null : `${Math.round(d.congestion * 100)}%`),
      figure(t("water"), num(d.water_level_max_cm, 0, " cm"), d.gauges_danger > 0 ? "background:#d7191c" : d.gauges_alert > 0 ? "background:#b35806" : ""),
      figure(t("noise"), num(d.laeq_5m, 0, " dB")),
      figure(t("kpi_reports_open"), d.reports_open),
      figure(t("kpi_reports_overdue"), d.reports_overdue, d.reports_overdue > 0 ? "background:#b91c1c" : ""),
      figure(t("rank"), d.rank));
    renderAlerts($("#area-alerts"), d.alerts || [], this.ctx);
    renderReports($("#area-reports"), d.reports || [], this.ctx);
    this.renderSources();
    this.renderCharts();
  }

  renderSources() {
    const d = this.data;
    if (!d) return;
    const now = Date.now();
    const over = (v) => (typeof v.level_cm === "number" && typeof v.danger_cm === "number" && v.level_cm > v.danger_cm ? " danger"
      : typeof v.level_cm === "number" && typeof v.alert_cm === "number" && v.level_cm > v.alert_cm ? " alert" : "");
    const rows = (d.sources || []).filter((s) => s.kind !== "dossier").map((s) => el("tr", { class: `${s.stale ? "stale" : ""}${over(s.values || {})}`, "data-source": s.id },
      el("td", {}, s.id),
      el("td", {}, t(`kind_${s.kind}`)),
      el("td", {}, Object.entries(s.values || {}).filter(([, v]) => typeof v === "number").map(([k, v]) => `${k} ${v}`).join(" · ")),
      el("td", {}, s.last_ts ? ago((now - Date.parse(s.last_ts)) / 1000) : "–", s.stale ? el("span", { class: "badge stale" }, t("stale")) : null)));
    $("#sources").replaceChildren(...rows);
  }

  /** The lowest alert and danger levels among the area's gauges, drawn on the level chart. */
  levelThresholds() {
    const gauges = (this.data.sources || []).filter((s) => s.kind === "water_level");
    const lowest = (key) => {
      const values = gauges.map((g) => g.values && g.values[key]).filter((v) => typeof v === "number");
      return values.length ? Math.min(...values) : null;
    };
    return [["alert", lowest("alert_cm")], ["danger", lowest("danger_cm")]].filter(([, v]) => v !== null);
  }

  renderCharts() {
    const series = this.data.series || {};
    const fields = new Set([...Object.keys(series), ...this.history.keys()].filter((f) => !NOT_CHARTED.has(f)));
    const end = Date.now();
    const start = end - 60 * MINUTE;
    const container = $("#charts");
    const rank = (f) => (ORDER.includes(f) ? ORDER.indexOf(f) : ORDER.length);
    const thresholds = this.levelThresholds();
    for (const field of [...fields].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))) {
      // Live minutes win; history fills the minutes the live windows do not hold.
      const points = new Map((this.history.get(field) || []).map(([ts, v]) => [ts, v]));
      for (const [ts, v] of series[field] || []) points.set(ts, v);
      const list = [...points].filter(([ts]) => ts >= start).sort((a, b) => a[0] - b[0]);
      let chart = this.charts.get(field);
      if (!chart) {
        chart = { node: el("figure", { class: "chart", "data-chart": field }), svg: svg("svg", { viewBox: "0 0 300 90", preserveAspectRatio: "none" }) };
        chart.caption = el("figcaption", {});
        chart.node.append(chart.caption, chart.svg);
        this.charts.set(field, chart);
        container.append(chart.node);
      }
      drawChart(chart, field, list, start, end, field === "level_cm" ? thresholds : []);
    }
  }
}

function drawChart(chart, field, points, start, end, thresholds) {
  const last = points.length ? points[points.length - 1][1] : null;
  const unit = UNITS[field] ?? "";
  const named = t(`field_${field}`);
  setText(chart.caption, `${named === `field_${field}` ? field : named}${last === null ? "" : ` · ${round(last)} ${unit}`}`);
  if (points.length === 0) {
    chart.svg.replaceChildren();
    return;
  }
  const values = points.map((p) => p[1]).concat(thresholds.map(([, v]) => v));
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (hi - lo < 1e-9) { lo -= 1; hi += 1; }
  const x = (ts) => ((ts - start) / (end - start)) * 300;
  const y = (v) => 78 - ((v - lo) / (hi - lo)) * 66;
  const line = points.map(([ts, v]) => `${x(ts).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
  chart.svg.replaceChildren(
    ...thresholds.map(([kind, v]) => svg("line", { x1: 0, x2: 300, y1: y(v).toFixed(1), y2: y(v).toFixed(1), class: `limit ${kind}` })),
    svg("polyline", { points: line, class: "line" }),
    ...points.length === 1 ? [svg("circle", { cx: x(points[0][0]).toFixed(1), cy: y(points[0][1]).toFixed(1), r: 3, class: "dot" })] : [],
    svg("text", { x: 2, y: 10, class: "axis" }, round(hi)),
    svg("text", { x: 2, y: 76, class: "axis" }, round(lo)),
    svg("text", { x: 2, y: 89, class: "axis" }, t("minus_60")),
    svg("text", { x: 298, y: 89, class: "axis end" }, t("now")));
}

function round(v) {
  return Math.abs(v) >= 100 ? Math.round(v) : Math.round(v * 10) / 10;
}
