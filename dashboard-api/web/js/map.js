// The city map: one SVG shape per area placed by real coordinates, coloured by the chosen
// layer, with a legend. Shapes are built once; live updates only change colours and texts.

import { svg, el, setText } from "./dom.js";
import { layout, pathOf } from "./geo.js";
import { AQI_BANDS, t, lang } from "./i18n.js";

const NO_DATA = "#3b4a63";
const OUT_OF_SCOPE = "#1c2433";
const SEVERITY_COLORS = { critical: "#d7191c", major: "#f46d43", minor: "#fdae61", warning: "#fee08b" };
const SEVERITY_ORDER = ["critical", "major", "minor", "warning"];

/** The VN_AQI band of an index value. */
export function aqiBand(value) {
  return AQI_BANDS.find((band) => value <= band.max) || AQI_BANDS[AQI_BANDS.length - 1];
}

function congestionColor(value) {
  if (value < 0.2) return "#1a9850";
  if (value < 0.4) return "#d9ef8b";
  if (value < 0.6) return "#fc8d59";
  return "#d73027";
}

function floodColor(area) {
  if (area.gauges_danger > 0) return "#d7191c";
  if (area.gauges_alert > 0) return "#fdae61";
  return area.water_level_max_cm >= 20 ? "#4f9bd9" : "#274b73";
}

function reportsColor(area) {
  if (area.reports_overdue > 0) return "#e6550d";
  if (area.reports_open >= 5) return "#fdae6b";
  return area.reports_open > 0 ? "#fdd9b5" : "#2b3a55";
}

const pct = (v) => `${Math.round(v * 100)}%`;

/** Per layer: the value shown (and put in `data-value`), its colour and its short text. */
const LAYERS = {
  aqi: {
    value: (a) => a.aqi,
    color: (a) => aqiBand(a.aqi).color,
    text: (a) => String(a.aqi),
    legend: () => AQI_BANDS.map((b) => [b.color, `${b[lang()]} (${b.max === 50 ? "0" : AQI_BANDS[AQI_BANDS.indexOf(b) - 1].max + 1}–${b.max})`]),
  },
  congestion: {
    value: (a) => a.congestion,
    color: (a) => congestionColor(a.congestion),
    text: (a) => pct(a.congestion),
    legend: () => [["#1a9850", `${t("congestion_low")} < 20%`], ["#d9ef8b", `${t("congestion_mid")} 20–40%`],
      ["#fc8d59", `${t("congestion_high")} 40–60%`], ["#d73027", `${t("congestion_jam")} ≥ 60%`]],
  },
  flood: {
    value: (a) => a.water_level_max_cm,
    color: floodColor,
    text: (a) => `${Math.round(a.water_level_max_cm)} cm`,
    legend: () => [["#274b73", `${t("flood_dry")} < 20 cm`], ["#4f9bd9", `${t("flood_rising")} ≥ 20 cm`],
      ["#fdae61", t("flood_alert")], ["#d7191c", t("flood_danger")]],
  },
  reports: {
    value: (a) => a.reports_open,
    color: reportsColor,
    text: (a) => (a.reports_overdue > 0 ? `${a.reports_open} (${a.reports_overdue}!)` : String(a.reports_open)),
    legend: () => [["#2b3a55", t("reports_none")], ["#fdd9b5", t("reports_open")], ["#fdae6b", t("reports_many")],
      ["#e6550d", t("reports_overdue")]],
  },
  alerts: {
    value: (a) => a.alerts_active,
    color: (a, worst) => (a.alerts_active > 0 ? SEVERITY_COLORS[worst] || SEVERITY_COLORS.minor : "#2b3a55"),
    text: (a) => String(a.alerts_active),
    legend: () => [["#2b3a55", t("alerts_none")], ...SEVERITY_ORDER.map((s) => [SEVERITY_COLORS[s], t(`severity_${s}`)])],
  },
};

/** Whether dark text reads better than white on `color` (`#rrggbb`). */
function darkText(color) {
  const n = parseInt(color.slice(1), 16);
  const [r, g, b] = [(n >> 16) & 255, (n >> 8) & 255, n & 255];
  return 0.299 * r + 0.587 * g + 0.114 * b > 150;
}

/** Adds a value label (and a name under it) centred at `point`; returns the text nodes. */
function placeLabel(parent, point, name, valueClass, nameClass) {
  const [x, y] = point;
  const value = svg("text", { x: x.toFixed(1), y: (y + (name ? 4 : 8)).toFixed(1), class: valueClass });
  parent.append(value);
  if (!name) return [value];
  const label = svg("text", { x: x.toFixed(1), y: (y + 24).toFixed(1), class: nameClass }, name);
  parent.append(label);
  return [value, label];
}

/** Where the inset goes (right of the map) and how it maps map points into it. */
function insetFrame(small, width, height) {
  const points = small.flatMap((s) => s.shape);
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  const [minX, maxX, minY, maxY] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const box = { x: width + 20, y: 40, width: 620, height: Math.min(height - 60, 620) };
  const scale = Math.min(box.width / (maxX - minX), box.height / (maxY - minY));
  const dx = box.x + (box.width - (maxX - minX) * scale) / 2 - minX * scale;
  const dy = box.y + (box.height - (maxY - minY) * scale) / 2 - minY * scale;
  return {
    rect: box,
    right: box.x + box.width + 10,
    transform: `translate(${dx.toFixed(1)} ${dy.toFixed(1)}) scale(${scale.toFixed(4)})`,
    map: ([x, y]) => [dx + x * scale, dy + y * scale],
  };
}

/** Area of a ring of box points (shoelace). */
function ringArea(ring) {
  let sum = 0;
  for (let i = 0; i < ring.length; i += 1) {
    const [x1, y1] = ring[i];
    const [x2, y2] = ring[(i + 1) % ring.length];
    sum += x1 * y2 - x2 * y1;
  }
  return Math.abs(sum) / 2;
}

/** The map inside `root` (an `<svg data-map>`) and its `legend` list. */
export class CityMap {
  constructor(root, legend, areas, onOpen) {
    this.root = root;
    this.legend = legend;
    this.layer = "aqi";
    this.shapes = new Map();
    const width = 1000;
    const { shapes, height, outline } = layout(areas, width, 12);
    const sizes = shapes.map((s) => ringArea(s.shape));
    const median = [...sizes].sort((a, b) => a - b)[Math.floor(sizes.length / 2)] || 0;
    // Cells far smaller than the typical one (a dense urban core) get a zoomed inset on the
    // right, so that their values and names stay readable on a wall.
    const small = shapes.filter((_, i) => sizes[i] < median / 2);
    const inset = small.length >= 3 ? insetFrame(small, width, height) : null;
    root.setAttribute("viewBox", `0 0 ${inset ? inset.right : width} ${height}`);
    root.replaceChildren(svg("path", { class: "outline", d: pathOf(outline) }));
    const cells = svg("g", { class: "cells" });
    const labels = svg("g", { class: "labels" });
    root.append(cells, labels);
    let zoomed = null;
    if (inset) {
      const clip = `inset-clip-${Math.random().toString(36).slice(2)}`;
      root.append(svg("defs", {}, svg("clipPath", { id: clip }, svg("rect", inset.rect))));
      this.insetCells = svg("g", { transform: inset.transform }, svg("path", { class: "outline", d: pathOf(outline) }));
      this.insetLabels = svg("g", {});
      zoomed = svg("g", { class: "inset", "clip-path": `url(#${clip})` },
        svg("rect", { ...inset.rect, class: "inset-bg" }), this.insetCells, this.insetLabels);
      root.append(zoomed, svg("rect", { ...inset.rect, class: "inset-frame" }),
        svg("text", { x: inset.rect.x + 8, y: inset.rect.y - 10, class: "inset-title", "data-i18n": "inner_city" }, t("inner_city")));
    }
    for (const { area, shape, label } of shapes) {
      const title = svg("title", {}, area.name);
      const path = svg("path", { d: pathOf(shape), "data-area": area.id, "data-value": "", class: "cell" }, title);
      path.addEventListener("click", () => onOpen(area.id));
      cells.append(path);
      const isSmall = inset && small.some((s) => s.area.id === area.id);
      const entry = { path, title, area, copies: [], texts: [] };
      if (!isSmall) {
        entry.texts.push(...placeLabel(labels, label, area.name, "v", "n"));
      } else {
        // On the main map a small cell carries only its value; the inset carries both.
        entry.texts.push(...placeLabel(labels, label, null, "v small", null));
      }
      if (zoomed) {
        const copy = svg("path", { d: pathOf(shape), class: "cell", "data-inset-area": area.id });
        copy.addEventListener("click", () => onOpen(area.id));
        this.insetCells.append(copy);
        entry.copies.push(copy);
        if (isSmall) entry.texts.push(...placeLabel(this.insetLabels, inset.map(label), area.name, "v", "n"));
      }
      this.shapes.set(area.id, entry);
    }
  }

  /** Redraws colours and values from the overview's area lines (`byId`), the worst active
   * alert severity per area (`severities`), and the scope (`visible` ids; all when null). */
  update(byId, severities, visible) {
    const layer = LAYERS[this.layer];
    // The three highest values of the layer get a white outline: they stand out even when
    // their colours are close to their neighbours'.
    const ranked = [...this.shapes.keys()]
      .filter((id) => (visible === null || visible.has(id)) && byId.has(id))
      .map((id) => [id, layer.value(byId.get(id))])
      .filter(([, v]) => typeof v === "number" && v > 0)
      .sort((a, b) => b[1] - a[1]);
    const worst = new Set(ranked.slice(0, 3).map(([id]) => id));
    // Drawn last, so that their neighbours do not cover their outline.
    for (const id of worst) {
      const shape = this.shapes.get(id);
      if (shape.path.nextSibling) shape.path.parentNode.append(shape.path);
      for (const copy of shape.copies) if (copy.nextSibling) copy.parentNode.append(copy);
    }
    for (const [id, shape] of this.shapes) {
      const line = byId.get(id);
      const inScope = visible === null || visible.has(id);
      const raw = line && inScope ? layer.value(line) : null;
      const has = raw !== null && raw !== undefined;
      const fill = !inScope ? OUT_OF_SCOPE : has ? layer.color(line, severities.get(id)) : NO_DATA;
      shape.path.setAttribute("data-value", has ? String(raw) : "");
      for (const node of [shape.path, ...shape.copies]) {
        node.setAttribute("fill", fill);
        node.classList.toggle("worst", worst.has(id));
        node.classList.toggle("out", !inScope);
        node.classList.toggle("nodata", inScope && !has);
      }
      const text = has ? layer.text(line) : "";
      const ink = darkText(fill) ? "#0b1220" : "#ffffff";
      for (const node of shape.texts) {
        if (node.classList.contains("v")) setText(node, text);
        node.setAttribute("fill", ink);
      }
      const status = !inScope ? t("out_of_scope") : has ? text : t("no_data");
      setText(shape.title, `${shape.area.name}: ${status}`);
    }
    this.drawLegend();
  }

  drawLegend() {
    const items = LAYERS[this.layer].legend().concat([[NO_DATA, t("no_data")], [OUT_OF_SCOPE, t("out_of_scope")]]);
    const key = `${this.layer}|${lang()}`;
    if (this.legendKey === key) return;
    this.legendKey = key;
    this.legend.replaceChildren(...items.map(([color, label]) => el("li", {}, el("span", { class: "swatch", style: `background:${color}` }), label)));
  }
}

/** The most severe state among active alerts, per area. */
export function worstSeverity(items) {
  const worst = new Map();
  for (const alert of items) {
    if (alert.state === "resolved" || !alert.area) continue;
    const now = worst.get(alert.area);
    if (!now || SEVERITY_ORDER.indexOf(alert.severity) < SEVERITY_ORDER.indexOf(now)) worst.set(alert.area, alert.severity);
  }
  return worst;
}

export { SEVERITY_ORDER, SEVERITY_COLORS };
