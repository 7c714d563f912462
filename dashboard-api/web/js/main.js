// The operations page: sign-in, routing between the wall (`#/`) and an area (`#/area/<slug>`),
// the live subscriptions and the header (connection state, data age, language).

import { $, setText } from "./dom.js";
import { t, lang, setLang, applyStatic, onLangChange } from "./i18n.js";
import { Live } from "./live.js";
import { CityMap, worstSeverity } from "./map.js";
import { renderKpis, renderRanking, renderAlerts, renderReports, fillReportFilters, reportFilters } from "./wall.js";
import { AreaView } from "./area.js";

const TOKEN_KEY = "ioc_token";

/** Takes a token from `?access_token=` or `#access_token=` into the session and removes it
 * from the address bar (and so from the history and from screenshots). */
function takeTokenFromAddress() {
  const query = new URLSearchParams(location.search);
  const hash = new URLSearchParams(location.hash.startsWith("#access_token=") ? location.hash.slice(1) : "");
  const token = query.get("access_token") || hash.get("access_token");
  if (!token) return;
  sessionStorage.setItem(TOKEN_KEY, token);
  query.delete("access_token");
  const rest = query.toString();
  const keepHash = hash.get("access_token") ? "" : location.hash;
  history.replaceState(null, "", `${location.pathname}${rest ? `?${rest}` : ""}${keepHash}`);
}

/** Shows the sign-in form with a message (why the last token did not work, if any). */
function showSignIn(messageKey) {
  sessionStorage.removeItem(TOKEN_KEY);
  $("#app").hidden = true;
  $("#signin").hidden = false;
  setText($("#signin-message"), messageKey ? t(messageKey) : "");
  $("#signin-message").dataset.reason = messageKey || "";
  $("[data-signin] [name=token]").focus();
}

/** Checks a token with the server: the session, or the reason it was refused. */
async function checkToken(token) {
  let response;
  try {
    response = await fetch("/api/session", { headers: { Authorization: `Bearer ${token}` } });
  } catch {
    return { error: "signin_unreachable" };
  }
  if (response.status === 401) {
    const body = await response.json().catch(() => ({}));
    return { error: /expired/i.test(body.error || "") ? "signin_expired" : "signin_invalid" };
  }
  if (!response.ok) return { error: "signin_unreachable" };
  return { session: await response.json() };
}

const state = {
  token: null,
  session: null,
  live: null,
  map: null,
  geometry: [],
  overview: null,
  alerts: null,
  reports: null,
  areaView: null,
  connection: "offline",
  lastFrameAt: 0,
  started: false,
};

/** What the renderers need from the page. */
const ctx = {
  get canAct() {
    return state.session && state.session.role !== "viewer";
  },
  get started() {
    return state.started;
  },
  lang,
  areaName(id) {
    const area = state.geometry.find((a) => a.id === id);
    return area ? area.name : id || "";
  },
  async api(path, options = {}) {
    const response = await fetch(path, { ...options, headers: { Authorization: `Bearer ${state.token}`, "Content-Type": "application/json" } });
    const body = await response.json().catch(() => ({}));
    if (response.status === 401) {
      signOut("signin_expired");
      throw new Error(body.error || "unauthorized");
    }
    if (!response.ok) throw new Error(body.error || body.message || response.statusText);
    return body;
  },
  async alertAction(id, action) {
    await ctx.api(`/api/alerts/${encodeURIComponent(id)}/${action}`, { method: "POST" }).catch(notify);
  },
  async reportAction(id, action, body) {
    await ctx.api(`/api/reports/${encodeURIComponent(id)}/${action}`, { method: "POST", body: JSON.stringify(body) }).catch(notify);
  },
};

function notify(error) {
  setText($("#notice"), `${t("action_failed")}: ${error.message}`);
  clearTimeout(notify.timer);
  notify.timer = setTimeout(() => setText($("#notice"), ""), 8000);
}

function signOut(reason) {
  if (state.live) state.live.stop();
  state.live = null;
  showSignIn(reason);
}

function setConnection(next) {
  state.connection = next;
  const badge = $("#connection");
  badge.setAttribute("data-connection", next);
  setText($("#connection-text"), t(next));
}

function renderWho() {
  if (!state.session) return;
  const role = t(`role_${state.session.role}`);
  const scope = state.session.areas ? ` · ${t("scope", state.session.areas.length)}` : "";
  setText($("#who"), t("signed_in_as", state.session.sub, role) + scope);
}

function renderAge() {
  setText($("#clock"), new Date().toLocaleTimeString(lang() === "vi" ? "vi-VN" : "en-GB"));
  const node = $("#age");
  if (!state.lastFrameAt) return setText(node, t("age_none"));
  const seconds = Math.round((Date.now() - state.lastFrameAt) / 1000);
  setText(node, t("age", seconds));
  node.classList.toggle("old", seconds > 15);
}

function visibleAreas() {
  const scope = state.session && state.session.areas;
  return Array.isArray(scope) ? new Set(scope) : null;
}

function renderWall() {
  if (!state.overview || !state.map) return;
  const lines = state.overview.areas || [];
  const byId = new Map(lines.map((a) => [a.id, a]));
  const alertItems = (state.alerts && state.alerts.items) || [];
  state.map.update(byId, worstSeverity(alertItems), visibleAreas());
  renderKpis(state.overview, state.alerts);
  if (state.areaView) return;
  renderRanking(lines, openArea);
}

function renderAlertFeed() {
  if (state.overview) renderWall();
  if (state.areaView) return;
  renderAlerts($("#alert-feed"), (state.alerts && state.alerts.items) || [], ctx);
}

function renderReportQueue() {
  if (state.areaView) return;
  renderReports($("#report-list"), (state.reports && state.reports.items) || [], ctx);
  setText($("#report-total"), state.reports ? String(state.reports.total ?? state.reports.items.length) : "");
}

function openArea(id) {
  location.hash = `#/area/${encodeURIComponent(id)}`;
}

/** Shows the wall or an area after a hash change. */
function route() {
  const match = /^#\/area\/([^/?#]+)/.exec(location.hash);
  if (state.areaView) {
    state.areaView.close();
    state.areaView = null;
  }
  const wall = $("#wall");
  const area = $("#area");
  if (match) {
    wall.hidden = true;
    area.hidden = false;
    // One copy of each alert and report row on the page: the wall's lists wait.
    $("#alert-feed").replaceChildren();
    $("#report-list").replaceChildren();
    $("#ranking").replaceChildren();
    state.areaView = new AreaView(area, state.live, ctx, decodeURIComponent(match[1]));
  } else {
    area.hidden = true;
    wall.hidden = false;
    renderWall();
    renderAlertFeed();
    renderReportQueue();
  }
}

/** Applies one live message to the state: the handler of a subscription. */
function handler(key, render) {
  return (message) => {
    state.lastFrameAt = Date.now();
    state[key] = message.kind === "alert" ? withAlert(state[key], message.alert) : message.data;
    render();
  };
}

/** An alert frame arrives before the next tick's patch: show the transition at once. */
function withAlert(view, alert) {
  const items = ((view && view.items) || []).filter((a) => a.id !== alert.id);
  if (alert.state !== "resolved") items.unshift(alert);
  return { ...view, items };
}

async function start(token) {
  const checked = await checkToken(token);
  if (checked.error) return showSignIn(checked.error);
  state.token = token;
  state.session = checked.session;
  sessionStorage.setItem(TOKEN_KEY, token);
  $("#signin").hidden = true;
  $("#app").hidden = false;
  renderWho();
  const geometry = await ctx.api("/api/areas").catch(() => null);
  if (!geometry) return;
  state.geometry = geometry.areas;
  state.map = new CityMap($("[data-map]"), $("#legend"), state.geometry, openArea);
  const inScope = visibleAreas();
  fillReportFilters(state.geometry.filter((a) => inScope === null || inScope.has(a.id)));
  state.live = new Live(token, setConnection, async () => {
    const again = await checkToken(token);
    if (again.error === "signin_expired" || again.error === "signin_invalid") {
      signOut(again.error);
      return false;
    }
    return true;
  });
  state.live.subscribe("ov", { view: "overview" }, handler("overview", renderWall));
  state.live.subscribe("al", { view: "alerts" }, handler("alerts", renderAlertFeed));
  state.live.subscribe("rp", reportFilters(), handler("reports", renderReportQueue));
  setTimeout(() => { state.started = true; }, 3000);
  route();
}

function wire() {
  for (const button of document.querySelectorAll("[data-lang]")) button.addEventListener("click", () => setLang(button.dataset.lang));
  for (const button of document.querySelectorAll("[data-layer]")) {
    button.addEventListener("click", () => {
      for (const other of document.querySelectorAll("[data-layer]")) other.setAttribute("aria-pressed", String(other === button));
      if (state.map) state.map.layer = button.dataset.layer;
      renderWall();
    });
  }
  for (const select of document.querySelectorAll("#report-filters select")) {
    select.addEventListener("change", () => {
      if (state.live) state.live.subscribe("rp", reportFilters(), handler("reports", renderReportQueue));
    });
  }
  $("[data-signin]").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("[data-signin] [name=token]").value.trim();
    if (token) start(token);
  });
  $("#signout").addEventListener("click", () => signOut(null));
  window.addEventListener("hashchange", () => {
    if (location.hash.startsWith("#access_token=")) {
      takeTokenFromAddress();
      if (state.live) state.live.stop();
      start(sessionStorage.getItem(TOKEN_KEY));
      return;
    }
    if (state.live) route();
  });
  onLangChange(() => {
    setConnection(state.connection);
    renderWho();
    renderAge();
    if (state.geometry.length) {
      const inScope = visibleAreas();
      fillReportFilters(state.geometry.filter((a) => inScope === null || inScope.has(a.id)));
    }
    if (state.live) route();
  });
  setInterval(renderAge, 1000);
}

takeTokenFromAddress();
applyStatic();
wire();
setConnection("offline");
const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved) start(saved);
else showSignIn(null);
