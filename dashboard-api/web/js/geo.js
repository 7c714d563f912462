// Map geometry, written for this page: a flat projection of WGS 84 coordinates, the city's
// outline (a buffered convex hull of the areas), and Voronoi cells of the centroids clipped to
// that outline for areas files without polygons.

/** Projects lon/lat to a plane where one unit is the same distance east and north. */
function planar(lon, lat, cosLat) {
  return [lon * cosLat, -lat];
}

/** Convex hull (Andrew's monotone chain) of `[x, y]` points, counter-clockwise. */
export function convexHull(points) {
  const sorted = [...points].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  if (sorted.length < 3) return sorted;
  const cross = (o, a, b) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const lower = [];
  for (const p of sorted) {
    while (lower.length >= 2 && cross(lower[lower.length - 2], lower[lower.length - 1], p) <= 0) lower.pop();
    lower.push(p);
  }
  const upper = [];
  for (const p of sorted.reverse()) {
    while (upper.length >= 2 && cross(upper[upper.length - 2], upper[upper.length - 1], p) <= 0) upper.pop();
    upper.push(p);
  }
  lower.pop();
  upper.pop();
  return lower.concat(upper);
}

/** The convex hull of circles of `radius` around every point: a rounded city outline. */
export function bufferedHull(points, radius) {
  const ring = [];
  const steps = 24;
  for (const [x, y] of points) {
    for (let i = 0; i < steps; i += 1) {
      const angle = (2 * Math.PI * i) / steps;
      ring.push([x + radius * Math.cos(angle), y + radius * Math.sin(angle)]);
    }
  }
  return convexHull(ring);
}

/** Keeps the part of a convex polygon where `a·p <= b` (one Sutherland–Hodgman step). */
function clipHalfPlane(polygon, a, b) {
  const out = [];
  const side = (p) => a[0] * p[0] + a[1] * p[1] - b;
  for (let i = 0; i < polygon.length; i += 1) {
    const p = polygon[i];
    const q = polygon[(i + 1) % polygon.length];
    const sp = side(p);
    const sq = side(q);
    if (sp <= 0) out.push(p);
    if ((sp < 0 && sq > 0) || (sp > 0 && sq < 0)) {
      const t = sp / (sp - sq);
      out.push([p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])]);
    }
  }
  return out;
}

/** The Voronoi cell of `sites[i]` inside the convex `outline`. */
export function voronoiCell(sites, i, outline) {
  let cell = outline;
  const [sx, sy] = sites[i];
  for (let j = 0; j < sites.length && cell.length > 0; j += 1) {
    const [tx, ty] = sites[j];
    if (j === i || (tx === sx && ty === sy)) continue;
    // Points closer to s than to t: (t − s)·p <= (|t|² − |s|²) / 2.
    cell = clipHalfPlane(cell, [tx - sx, ty - sy], (tx * tx + ty * ty - sx * sx - sy * sy) / 2);
  }
  return cell;
}

/**
 * Lays the areas out in a `width`-wide box: each area gets `shape` (its polygon, else its
 * Voronoi cell) and `label` (its centroid), in box coordinates; also the box's height and
 * the outline.
 */
export function layout(areas, width, padding) {
  const meanLat = areas.reduce((sum, a) => sum + a.lat, 0) / Math.max(1, areas.length);
  const cosLat = Math.cos((meanLat * Math.PI) / 180);
  const sites = areas.map((a) => planar(a.lon, a.lat, cosLat));
  const rings = areas.map((a) => (Array.isArray(a.polygon) && a.polygon.length >= 3
    ? a.polygon.map(([lon, lat]) => planar(lon, lat, cosLat)) : null));
  const all = sites.concat(...rings.filter(Boolean));
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  const spread = Math.max(Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys), 0.01);
  const outline = bufferedHull(all, spread * 0.07);
  const ox = outline.map((p) => p[0]);
  const oy = outline.map((p) => p[1]);
  const minX = Math.min(...ox);
  const minY = Math.min(...oy);
  const scale = (width - 2 * padding) / Math.max(Math.max(...ox) - minX, 1e-9);
  const height = Math.ceil((Math.max(...oy) - minY) * scale + 2 * padding);
  const toBox = ([x, y]) => [padding + (x - minX) * scale, padding + (y - minY) * scale];
  const shapes = areas.map((area, i) => ({
    area,
    shape: (rings[i] || voronoiCell(sites, i, outline)).map(toBox),
    label: toBox(sites[i]),
  }));
  return { shapes, height, outline: outline.map(toBox) };
}

/** An SVG path for a ring of box points. */
export function pathOf(ring) {
  if (ring.length === 0) return "";
  return `M${ring.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join("L")}Z`;
}
