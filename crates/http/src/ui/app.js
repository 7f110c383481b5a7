// The Integra dashboard: plain JavaScript, no library, served by the binary itself.
"use strict";

const AUTH_ON = document.querySelector('meta[name="integra-auth"]').content === "on";
const PAGE = 20;
const KEY_STORE = "integra-key";
const CHANNELS_STORE = "integra-channels";
const SYSTEM_CHANNELS = ["mensagens", "alertas", "mensagens.email", "mensagens.sms", "mensagens.push", "mensagens.webhook"];
const COLORS = ["#2f6fed", "#e8590c", "#2b8a3e", "#ae3ec9", "#c92a2a", "#1098ad", "#d6336c", "#5f3dc4"];

const state = {
  key: sessionStorage.getItem(KEY_STORE) || "",
  messages: { skip: 0 },
  alerts: { skip: 0 },
  channels: JSON.parse(sessionStorage.getItem(CHANNELS_STORE) || "[]"),
  socket: null,
  backoff: 500,
  started: false,
};

const $ = (selector, root = document) => root.querySelector(selector);

/** An element with attributes (`class`, `data-*`, properties) and children (nodes or text). */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function toast(text) {
  const t = $("#toast");
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 3500);
}

const time = (ts) => (ts ? new Date(ts).toLocaleString() : "");

/** Calls the API with the key, if any; a refused key asks for another. */
async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (state.key) headers.Authorization = "Bearer " + state.key;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status === 401) {
    askKey("This key was refused. Check it and enter it again.");
    throw new Error("unauthorized");
  }
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (!res.ok) throw new Error((data && (data.detail || data.title)) || res.statusText);
  return data;
}

// ---- the key ----

function askKey(message) {
  state.key = "";
  sessionStorage.removeItem(KEY_STORE);
  if (state.socket) state.socket.close();
  $("#app").hidden = true;
  $("#auth").hidden = false;
  $("#key-error").textContent = message || "";
  $("#key").focus();
}

$("#key-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  state.key = $("#key").value.trim();
  $("#key-error").textContent = "";
  try {
    await api("GET", "/alerts?limit=1");
  } catch (e) {
    if (e.message !== "unauthorized") $("#key-error").textContent = "The server did not answer: " + e.message;
    return;
  }
  sessionStorage.setItem(KEY_STORE, state.key);
  $("#key").value = "";
  start();
});

$("#forget-key").addEventListener("click", () => askKey(""));

// ---- messages ----

function messageFilters() {
  const form = new FormData($("#message-filters"));
  return { tipo: form.get("tipo"), status: form.get("status") };
}

function messageRow(m) {
  const k = m.kafka;
  return el("tr", { id: "m-" + m.id, "data-status": m.status },
    el("td", { class: "id", title: m.id }, m.id),
    el("td", {}, m.tipo),
    el("td", {}, m.destinatario),
    el("td", { class: "status " + m.status, title: m.erro || "" }, m.status),
    el("td", {}, m.tentativas),
    el("td", { class: "muted" }, k ? `${k.topico} · p${k.particao} · #${k.offset}` : "—"),
    el("td", { class: "muted" }, time(m.atualizado_em)));
}

async function loadMessages() {
  const f = messageFilters();
  const q = new URLSearchParams({ tipo: f.tipo, status: f.status, skip: state.messages.skip, limit: PAGE });
  const rows = await api("GET", "/messages?" + q);
  const body = $("#message-rows");
  body.replaceChildren(...(rows.length ? rows.map(messageRow) : [el("tr", {}, el("td", { class: "empty", colspan: 7 }, "No messages"))]));
  pageLabel("#message-filters", state.messages.skip, rows.length);
}

/** A status change: the row changes in place, or a new message comes first on the first page. */
function onMessage(m) {
  const f = messageFilters();
  const passes = (!f.tipo || f.tipo === m.tipo) && (!f.status || f.status === m.status);
  upsert("#message-rows", "m-" + m.id, passes, state.messages, () => messageRow(m));
}

/**
 * A record that changed, in a table's first page: its row changes in place; one that no longer
 * passes the filters leaves; a new one that passes comes first.
 */
function upsert(body, id, passes, page, row) {
  const existing = document.getElementById(id);
  if (!passes) { existing?.remove(); return; }
  const fresh = row();
  fresh.classList.add("fresh");
  if (existing) { existing.replaceWith(fresh); return; }
  if (page.skip !== 0) return;
  const rows = $(body);
  rows.querySelector(".empty")?.closest("tr").remove();
  rows.prepend(fresh);
  while (rows.children.length > PAGE) rows.lastElementChild.remove();
}

// ---- alerts ----

function alertFilters() {
  const form = new FormData($("#alert-filters"));
  return { severidade: form.get("severidade"), resolvido: form.get("resolvido") };
}

function alertState(a) {
  if (a.resolvido) return el("span", { class: "ok" }, "resolved");
  const parts = [el("span", { class: "bad" }, "open")];
  if (a.reconhecido) parts.push(" · acked" + (a.reconhecido_por ? " by " + a.reconhecido_por : ""));
  if (a.silenciado) parts.push(" · silenced");
  return el("span", {}, parts);
}

function alertRow(a) {
  const act = (label, handler, disabled) =>
    el("button", { class: "quiet", "data-action": label.toLowerCase(), disabled, onclick: handler }, label);
  return el("tr", { id: "a-" + a.id },
    el("td", { class: "id", title: a.id }, a.id),
    el("td", { title: a.descricao }, a.titulo),
    el("td", {}, el("span", { class: "sev " + a.severidade }, a.severidade)),
    el("td", { class: "muted" }, a.origem || "—"),
    el("td", {}, alertState(a)),
    el("td", { class: "muted" }, time(a.criado_em)),
    el("td", { class: "actions" },
      act("Ack", () => alertAction(a, "ack"), a.resolvido || a.reconhecido),
      act("Resolve", () => alertAction(a, "resolve"), a.resolvido),
      act("Silence", () => silence(a), false)));
}

async function loadAlerts() {
  const f = alertFilters();
  const q = new URLSearchParams({ severidade: f.severidade, resolvido: f.resolvido, skip: state.alerts.skip, limit: PAGE });
  const rows = await api("GET", "/alerts?" + q);
  $("#alert-rows").replaceChildren(...(rows.length ? rows.map(alertRow) : [el("tr", {}, el("td", { class: "empty", colspan: 7 }, "No alerts"))]));
  pageLabel("#alert-filters", state.alerts.skip, rows.length);
}

function onAlert(a) {
  const f = alertFilters();
  const passes = (!f.severidade || f.severidade === a.severidade) && (f.resolvido === "" || String(a.resolvido) === f.resolvido);
  upsert("#alert-rows", "a-" + a.id, passes, state.alerts, () => alertRow(a));
}

async function alertAction(a, action) {
  try {
    const changed = await api("POST", `/alerts/${encodeURIComponent(a.id)}/${action}`, action === "ack" ? {} : undefined);
    onAlert(changed);
    toast(action === "ack" ? "Acknowledged " + a.id : "Resolved " + a.id);
  } catch (e) {
    if (e.message !== "unauthorized") toast("Could not " + action + ": " + e.message);
  }
}

async function silence(a) {
  const fim = new Date(Date.now() + 3600_000).toISOString();
  try {
    await api("POST", "/silences", { matchers: { id_prefixo: a.id }, fim, comentario: "from the dashboard" });
    toast("Silenced for an hour: its next openings notify no one");
  } catch (e) {
    if (e.message !== "unauthorized") toast("Could not silence: " + e.message);
  }
}

// ---- paging and filters ----

function pageLabel(form, skip, count) {
  const label = $(form + " [data-page-label]");
  label.textContent = count ? `${skip + 1}–${skip + count}` : "";
  $(form + ' [data-page="-1"]').disabled = skip === 0;
  $(form + ' [data-page="1"]').disabled = count < PAGE;
}

function wireTable(form, page, load) {
  $(form + " .pager").replaceChildren(
    el("button", { type: "button", class: "quiet", "data-page": "-1" }, "‹ Newer"),
    el("span", { class: "muted", "data-page-label": true }),
    el("button", { type: "button", class: "quiet", "data-page": "1" }, "Older ›"));
  $(form).addEventListener("change", () => { page.skip = 0; load().catch(report); });
  for (const button of document.querySelectorAll(form + " [data-page]")) {
    button.addEventListener("click", () => {
      page.skip = Math.max(0, page.skip + Number(button.dataset.page) * PAGE);
      load().catch(report);
    });
  }
}

function report(e) {
  if (e.message !== "unauthorized") toast(e.message);
}

// ---- metrics ----

async function showMetric(event) {
  event?.preventDefault();
  const form = new FormData($("#metric-form"));
  const nome = form.get("nome").trim();
  if (!nome) return;
  const end = new Date();
  const start = new Date(end.getTime() - Number(form.get("range")) * 1000);
  const q = new URLSearchParams({ nome, start_time: start.toISOString(), end_time: end.toISOString(), limit: 10000 });
  const samples = await api("GET", "/metrics?" + q);
  const series = new Map();
  for (const s of samples) {
    const key = Object.entries(s.labels || {}).map(([k, v]) => `${k}="${v}"`).join(", ");
    if (!series.has(key)) series.set(key, []);
    series.get(key).push(s);
  }
  $("#metric-summary").textContent = `${samples.length} samples in ${series.size} series`;
  drawChart($("#chart"), series, start.getTime(), end.getTime());
}

function drawChart(box, series, t0, t1) {
  const NS = "http://www.w3.org/2000/svg";
  const svg = (tag, attrs) => {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    return node;
  };
  const W = Math.max(480, Math.round(box.clientWidth) || 900), H = 280, L = 56, R = 12, T = 12, B = 28;
  const all = [...series.values()].flat();
  if (!all.length) { box.replaceChildren(el("p", { class: "empty" }, "No samples in this range")); return; }
  let lo = Math.min(...all.map((s) => s.valor)), hi = Math.max(...all.map((s) => s.valor));
  if (lo === hi) { lo -= 1; hi += 1; }
  const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
  const y = (v) => T + (1 - (v - lo) / (hi - lo)) * (H - T - B);
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "metric chart" });
  chart.append(svg("line", { class: "axis", x1: L, y1: H - B, x2: W - R, y2: H - B }));
  chart.append(svg("line", { class: "axis", x1: L, y1: T, x2: L, y2: H - B }));
  for (const [v, label] of [[hi, hi], [lo, lo], [(hi + lo) / 2, (hi + lo) / 2]]) {
    const text = svg("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" });
    text.textContent = Number(label.toPrecision(4));
    chart.append(text);
  }
  for (const [t, anchor] of [[t0, "start"], [t1, "end"]]) {
    const text = svg("text", { x: x(t), y: H - 8, "text-anchor": anchor });
    text.textContent = new Date(t).toLocaleTimeString();
    chart.append(text);
  }
  const legend = el("div", { class: "legend" });
  [...series.entries()].forEach(([key, points], i) => {
    const color = COLORS[i % COLORS.length];
    const coords = points.map((p) => `${x(Date.parse(p.timestamp)).toFixed(1)},${y(p.valor).toFixed(1)}`);
    chart.append(svg("polyline", { points: coords.join(" "), fill: "none", stroke: color, "stroke-width": 1.5 }));
    for (const p of points) {
      const dot = svg("circle", { cx: x(Date.parse(p.timestamp)).toFixed(1), cy: y(p.valor).toFixed(1), r: 3, fill: color, "data-valor": p.valor });
      const title = svg("title", {});
      title.textContent = `${key || "(no labels)"}: ${p.valor} at ${time(p.timestamp)}`;
      dot.append(title);
      chart.append(dot);
    }
    const swatch = el("i");
    swatch.style.background = color; // a property, not a style attribute: the page's CSP allows no inline style
    legend.append(el("span", {}, swatch, key || "(no labels)"));
  });
  box.replaceChildren(chart, legend);
}

// ---- live: readiness, connections, channels ----

async function loadLive() {
  const headers = state.key ? { Authorization: "Bearer " + state.key } : {};
  const ready = await fetch("/readyz", { headers });
  const body = await ready.json().catch(() => ({}));
  const checks = body.checks || body;
  $("#checks").replaceChildren(...["store", "bus", "subscription"].map((name) =>
    el("div", { class: "check" }, el("span", {}, name),
      el("span", { class: checks[name] === "ok" ? "ok" : "bad", title: checks[name] || "" }, checks[name] === "ok" ? "ready" : String(checks[name] || "unknown")))));
  const exposition = await (await fetch("/metrics/prometheus")).text();
  const line = exposition.split("\n").find((l) => l.startsWith("integra_ws_connections "));
  $("#connections").textContent = line ? `WebSocket connections on this instance: ${line.split(" ")[1]}` : "";
  const names = [...new Set([...SYSTEM_CHANNELS, ...state.channels])];
  const rows = await Promise.all(names.map(async (canal) => {
    try {
      const c = await api("GET", "/channels/" + encodeURIComponent(canal));
      return el("tr", {}, el("td", { class: "id" }, canal), el("td", {}, c.offset), el("td", {}, c.inscritos));
    } catch (e) {
      return el("tr", {}, el("td", { class: "id" }, canal), el("td", { class: "muted", colspan: 2 }, e.message));
    }
  }));
  $("#channels").replaceChildren(...rows);
}

$("#channel-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const name = $("#channel-name").value.trim();
  if (!name || state.channels.includes(name)) return;
  state.channels.push(name);
  sessionStorage.setItem(CHANNELS_STORE, JSON.stringify(state.channels));
  $("#channel-name").value = "";
  loadLive().catch(report);
});

/** The channels' offsets move with the events: read them again, at most once a second. */
function liveSoon() {
  if (liveSoon.pending) return;
  liveSoon.pending = setTimeout(() => { liveSoon.pending = null; loadLive().catch(report); }, 1000);
}

// ---- the socket ----

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const token = state.key ? "?token=" + encodeURIComponent(state.key) : "";
  const socket = new WebSocket(`${scheme}://${location.host}/ws${token}`);
  state.socket = socket;
  socket.addEventListener("open", () => {
    $("#socket").textContent = "live";
    $("#socket").className = "pill on";
    // What happened while the socket was down is read again.
    if (state.backoff > 500) refresh();
    state.backoff = 500;
  });
  socket.addEventListener("message", (event) => {
    let frame;
    try { frame = JSON.parse(event.data); } catch { return; }
    if (!frame || typeof frame !== "object") return;
    if (frame.evento === "mensagem.atualizada") onMessage(frame.dados);
    else if (typeof frame.evento === "string" && frame.evento.startsWith("alerta.")) onAlert(frame.dados);
    else return;
    liveSoon();
  });
  socket.addEventListener("close", () => {
    if (state.socket !== socket) return;
    $("#socket").textContent = "reconnecting…";
    $("#socket").className = "pill off";
    if (!state.key && AUTH_ON) return;
    setTimeout(connect, state.backoff);
    state.backoff = Math.min(state.backoff * 2, 10_000);
  });
}

function refresh() {
  loadMessages().catch(report);
  loadAlerts().catch(report);
  loadLive().catch(report);
}

function start() {
  $("#auth").hidden = true;
  $("#app").hidden = false;
  $("#forget-key").hidden = !AUTH_ON;
  if (!state.started) {
    state.started = true;
    wireTable("#message-filters", state.messages, loadMessages);
    wireTable("#alert-filters", state.alerts, loadAlerts);
    $("#metric-form").addEventListener("submit", (e) => showMetric(e).catch(report));
    setInterval(() => { if (!$("#app").hidden) loadLive().catch(report); }, 5000);
  }
  refresh();
  connect();
}

if (AUTH_ON && !state.key) askKey("");
else start();
