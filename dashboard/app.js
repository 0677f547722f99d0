// Tugboat's dashboard: one page fed by server-sent events (/api/events). No library, no build
// step; everything it loads comes from this admin listener. Changes go through the admin API with
// the session cookie and the X-Tugboat-CSRF header.
"use strict";

const $ = (id) => document.getElementById(id);
const view = { pool: [], history: [], incidents: [], notifications: [], profiles: [], scaling: null, settings: { chart_lines: [] } };

// ---- helpers -------------------------------------------------------------------------------

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(child ?? ""));
  return node;
}

function replaceRows(tbody, rows) {
  tbody.replaceChildren(...rows);
}

function ago(iso) {
  if (!iso) return "";
  const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (seconds < 90) return `${Math.round(seconds)} s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 129600) return `${Math.round(seconds / 3600)} h ago`;
  return new Date(iso).toLocaleString();
}

function time(iso) {
  return iso ? new Date(iso).toLocaleTimeString() : "";
}

function number(value, digits = 1) {
  return value == null ? "–" : Number(value).toFixed(digits);
}

function milliseconds(value) {
  if (value == null) return "–";
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value < 10 ? value.toFixed(1) : Math.round(value)} ms`;
}

// +15551234567 → +1•••••4567 (an email: a•••@example.com); what the page shows of a recipient.
function maskRecipient(recipient) {
  if (!recipient) return "";
  if (recipient.includes("@")) {
    const [user, domain] = recipient.split("@");
    return `${user.slice(0, 1)}•••@${domain}`;
  }
  if (/^\+?[0-9]{6,}$/.test(recipient)) {
    const digits = recipient.replace("+", "");
    return `+${digits.slice(0, 1)}•••••${digits.slice(-4)}`;
  }
  return recipient.length > 24 ? `${recipient.slice(0, 21)}…` : recipient;
}

async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-Tugboat-CSRF": "1" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let answer = null;
  try { answer = await response.json(); } catch (_) { /* an empty answer */ }
  if (!response.ok) throw new Error(answer?.error ?? `HTTP ${response.status}`);
  return answer;
}

// ---- login ---------------------------------------------------------------------------------

async function begin() {
  const session = await (await fetch("/api/session", { credentials: "same-origin" })).json();
  if (session.token_required && !session.authenticated) {
    $("login").hidden = false;
    $("main").hidden = true;
    $("token").focus();
    return;
  }
  $("logout").hidden = !session.token_required;
  $("login").hidden = true;
  $("main").hidden = false;
  connect();
}

$("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("login-error").textContent = "";
  const response = await fetch("/api/session", {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ token: $("token").value }),
  });
  $("token").value = "";
  if (response.ok) begin();
  else $("login-error").textContent = response.status === 401 ? "Wrong token." : `Login failed (HTTP ${response.status}).`;
});

$("logout").addEventListener("click", async () => {
  await fetch("/api/session", { method: "DELETE", credentials: "same-origin" });
  location.reload();
});

// ---- live feed -----------------------------------------------------------------------------

let source = null;

function connect() {
  if (source) source.close();
  // EventSource reconnects by itself (the server says after 2 s) and sends Last-Event-ID.
  source = new EventSource("/api/events");
  source.onopen = () => { $("live").textContent = "live"; $("live").className = "badge on"; };
  source.onerror = () => {
    $("live").textContent = "reconnecting…"; $("live").className = "badge off";
    if (source.readyState === EventSource.CLOSED) setTimeout(begin, 3000);  // e.g. logged out: ask again
  };
  const on = (name, handler) => source.addEventListener(name, (event) => handler(JSON.parse(event.data)));
  on("settings", (settings) => { view.settings = settings; showSettings(); drawChart(); });
  on("pool", (pool) => { view.pool = pool; showPool(); });
  on("history", (history) => { view.history = history; drawChart(); });
  on("traffic", (point) => {
    const last = view.history[view.history.length - 1];
    if (!last || last.t < point.t) view.history.push(point);
    while (view.history.length > 900) view.history.shift();
    showTraffic(point);
    drawChart();
  });
  on("incidents", (incidents) => { view.incidents = incidents; showIncidents(); });
  on("notifications", (notifications) => { view.notifications = notifications; showNotifications(); });
  on("scaling", (scaling) => { view.scaling = scaling; showScaling(); });
  on("profiles", (profiles) => { view.profiles = profiles; showProfiles(); });
  on("cluster", (cluster) => { showCluster(cluster); });
}

function showSettings() {
  for (const link of document.querySelectorAll("nav a[data-needs]")) link.hidden = !view.settings[link.dataset.needs];
  $("scaling").hidden = !view.settings.scaling;
  $("cluster").hidden = !view.settings.cluster;
}

// ---- pool ----------------------------------------------------------------------------------

function showPool() {
  replaceRows($("pool-rows"), view.pool.map((backend) => el("tr", { "data-address": backend.address },
    el("td", {}, backend.address),
    el("td", {}, el("span", { class: `state ${backend.state}`, title: backend.reason }, backend.state)),
    el("td", { class: "num" }, String(backend.inflight)),
    el("td", { class: "num" }, number(backend.rps)),
    el("td", { class: "num" }, milliseconds(backend.p99_ms)),
    el("td", { class: "num" }, number(backend.errors_per_second)),
    el("td", { title: backend.since ?? "" }, ago(backend.since)),
    el("td", {}, backend.state === "draining" ? "" : el("button", {
      class: "small", onclick: () => drain(backend.address),
    }, "Drain")))));
}

async function drain(address) {
  $("pool-error").textContent = "";
  try { await api("DELETE", `/api/pool/backends/${encodeURIComponent(address)}`); }
  catch (error) { $("pool-error").textContent = `${address}: ${error.message}`; }
}

$("add-backend").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("pool-error").textContent = "";
  try {
    await api("POST", "/api/pool/backends", { address: $("add-address").value.trim() });
    $("add-address").value = "";
  } catch (error) { $("pool-error").textContent = error.message; }
});

// ---- traffic -------------------------------------------------------------------------------

function showTraffic(point) {
  $("rps").textContent = number(point.rps);
  $("p99").textContent = milliseconds(point.p99_ms);
  $("errors").textContent = `${number(point.error_rate * 100)} %`;
}

let chartQueued = false;
function drawChart() {
  if (chartQueued) return;
  chartQueued = true;
  requestAnimationFrame(() => { chartQueued = false; paintChart(); });
}

function paintChart() {
  const canvas = $("chart");
  const width = canvas.clientWidth || canvas.width, height = canvas.height;
  if (canvas.width !== width) canvas.width = width;
  const context = canvas.getContext("2d");
  context.clearRect(0, 0, width, height);
  const now = Date.now(), span = 15 * 60 * 1000;
  const lines = view.settings.chart_lines ?? [];
  const top = Math.max(1, ...view.history.map((p) => p.rps), ...lines.map((l) => l.rps)) * 1.15;
  const x = (t) => ((t - (now - span)) / span) * width;
  const y = (rps) => height - 18 - (rps / top) * (height - 28);
  context.font = "11px system-ui, sans-serif";
  context.fillStyle = "#667";
  context.fillText(`${number(top, 0)} req/s`, 4, 12);
  context.fillText("−15 min", 4, height - 4);
  context.fillText("now", width - 24, height - 4);
  for (const line of lines) {
    context.strokeStyle = line.kind === "alert" ? "#c0392b" : "#8e6cc0";
    context.setLineDash([5, 4]);
    context.beginPath(); context.moveTo(0, y(line.rps)); context.lineTo(width, y(line.rps)); context.stroke();
    context.setLineDash([]);
    context.fillStyle = context.strokeStyle;
    context.fillText(`${line.label} ${line.rps}`, width - 8 - context.measureText(`${line.label} ${line.rps}`).width, y(line.rps) - 3);
  }
  context.strokeStyle = "#1f6feb";
  context.lineWidth = 1.5;
  context.beginPath();
  let started = false;
  for (const point of view.history) {
    if (point.t < now - span) continue;
    if (!started) { context.moveTo(x(point.t), y(point.rps)); started = true; } else context.lineTo(x(point.t), y(point.rps));
  }
  context.stroke();
  context.lineWidth = 1;
  $("chart-legend").textContent = lines.length
    ? lines.map((l) => `${l.kind === "alert" ? "alert" : "scaling"}: ${l.label} at ${l.rps} req/s`).join(" · ")
    : "";
}

// ---- incidents -----------------------------------------------------------------------------

function showIncidents() {
  replaceRows($("incident-rows"), view.incidents.map((incident) => {
    const steps = [["pending", incident.started_at], ["firing", incident.fired_at],
      ["acknowledged", incident.acknowledged_at], ["resolved", incident.resolved_at]]
      .filter(([, at]) => at).map(([name, at]) => el("li", { class: `state ${name}` }, `${name} ${time(at)}`));
    const actions = el("td", {});
    if (incident.state === "firing") {
      actions.append(el("button", { class: "small", onclick: () => acknowledge(incident.id) }, "Acknowledge"));
    }
    if (incident.flamegraph) {
      actions.append(el("button", { class: "small link", onclick: () => openFlameGraph(incident.flamegraph) }, "Flame graph"));
    }
    return el("tr", { "data-incident": String(incident.id) },
      el("td", {}, String(incident.id)), el("td", {}, incident.rule), el("td", {}, incident.target),
      el("td", {}, el("span", { class: `state ${incident.state}` }, incident.state)),
      el("td", {}, el("ol", { class: "timeline" }, ...steps)), actions);
  }));
}

async function acknowledge(id) {
  try { await api("POST", `/api/incidents/${id}/ack`); } catch (error) { alert(`Incident ${id}: ${error.message}`); }
}

// ---- notifications -------------------------------------------------------------------------

function showNotifications() {
  const incident = $("filter-incident").value.trim(), status = $("filter-status").value;
  const rows = view.notifications.filter((n) => (!incident || String(n.incident) === incident) && (!status || n.status === status));
  replaceRows($("notification-rows"), rows.map((n) => el("tr", {},
    el("td", {}, String(n.incident)), el("td", {}, n.channel), el("td", { class: "mono" }, maskRecipient(n.recipient)),
    el("td", {}, n.kind), el("td", {}, el("span", { class: `state ${n.status}` }, n.status)),
    el("td", { class: "num" }, String(n.attempts)), el("td", { class: "mono" }, n.provider_id ?? ""),
    el("td", { class: "error" }, n.error ?? ""))));
}

$("filter-incident").addEventListener("input", showNotifications);
$("filter-status").addEventListener("change", showNotifications);

// ---- scaling -------------------------------------------------------------------------------

const scalingStates = ["IDLE", "BUSY", "READY", "UP", "DRAINING"];

function showScaling() {
  const scaling = view.scaling;
  if (!scaling) return;
  $("scaling-counts").textContent = `${scaling.active} active, ${scaling.ready} ready`;
  const svg = $("scaling-machine");
  const namespace = "http://www.w3.org/2000/svg";
  svg.replaceChildren();
  scalingStates.forEach((name, index) => {
    const group = document.createElementNS(namespace, "g");
    const rect = document.createElementNS(namespace, "rect");
    Object.entries({ x: 8 + index * 110, y: 15, width: 92, height: 36, rx: 8 }).forEach(([k, v]) => rect.setAttribute(k, v));
    rect.setAttribute("class", name === scaling.state ? "machine lit" : "machine");
    const label = document.createElementNS(namespace, "text");
    label.setAttribute("x", 54 + index * 110); label.setAttribute("y", 38); label.setAttribute("text-anchor", "middle");
    label.textContent = name;
    group.append(rect, label);
    if (index < scalingStates.length - 1) {
      const arrow = document.createElementNS(namespace, "path");
      arrow.setAttribute("d", `M${100 + index * 110} 33 h16 m-5 -4 l5 4 l-5 4`);
      arrow.setAttribute("class", "arrow");
      group.append(arrow);
    }
    svg.append(group);
  });
  replaceRows($("scaling-rows"), scaling.events.map((event) => el("tr", { class: event.failed ? "failed" : "" },
    el("td", { title: event.at }, time(event.at)), el("td", {}, `${event.from} → ${event.to}`),
    el("td", {}, event.state), el("td", {}, event.reason))));
  drawInstances(scaling.events);
}

function drawInstances(events) {
  const canvas = $("instances-chart");
  const width = canvas.clientWidth || canvas.width, height = canvas.height;
  if (canvas.width !== width) canvas.width = width;
  const context = canvas.getContext("2d");
  context.clearRect(0, 0, width, height);
  const points = events.slice().reverse().map((e) => ({ t: Date.parse(e.at), n: e.to }));
  if (points.length === 0) return;
  const start = Math.min(points[0].t, Date.now() - 15 * 60 * 1000), end = Date.now();
  const top = Math.max(1, ...points.map((p) => p.n), ...events.map((e) => e.from)) + 1;
  const x = (t) => ((t - start) / (end - start)) * width;
  const y = (n) => height - 6 - (n / top) * (height - 16);
  context.strokeStyle = "#2e8540";
  context.beginPath();
  let count = events[events.length - 1].from;
  context.moveTo(x(start), y(count));
  for (const point of points) {
    context.lineTo(x(point.t), y(count));  // a step: the count holds until the event
    count = point.n;
    context.lineTo(x(point.t), y(count));
  }
  context.lineTo(width, y(count));
  context.stroke();
  context.fillStyle = "#667";
  context.font = "11px system-ui, sans-serif";
  context.fillText(`instances (max ${top - 1})`, 4, 11);
}

// ---- flame graphs --------------------------------------------------------------------------

function showProfiles() {
  replaceRows($("profile-rows"), view.profiles.map((profile) => el("tr", { "data-profile": String(profile.id) },
    el("td", {}, el("input", { type: "checkbox", value: String(profile.id), "aria-label": `compare ${profile.id}`, onchange: diffReady })),
    el("td", {}, el("button", { class: "small link", onclick: () => openFlameGraph(profile.flamegraph) }, `#${profile.id}`)),
    el("td", {}, profile.address), el("td", {}, profile.reason), el("td", {}, profile.source),
    el("td", { title: profile.captured_at }, ago(profile.captured_at)), el("td", { class: "num" }, String(profile.samples)))));
}

function ticked() {
  return [...document.querySelectorAll("#profile-rows input:checked")].map((box) => box.value);
}

function diffReady() { $("diff").disabled = ticked().length !== 2; }

$("diff").addEventListener("click", () => {
  const [newer, older] = ticked().map(Number).sort((a, b) => b - a);
  openFlameGraph(`/api/profiles/${newer}/diff?against=${older}`);
});

function openFlameGraph(url) {
  const frame = $("flamegraph");
  frame.hidden = false;
  frame.src = url;
  frame.scrollIntoView({ behavior: "smooth", block: "start" });
}

// ---- cluster -------------------------------------------------------------------------------

function showCluster(cluster) {
  $("cluster-status").textContent = cluster.mode === "single"
    ? "This node runs alone."
    : `Node ${cluster.node} · leader ${cluster.leader ?? "none"} · epoch ${cluster.epoch} · Redis ${cluster.redis}`;
}

// Relative times ("12 s ago") stay true without any new event.
setInterval(() => { if (!$("main").hidden) showPool(); }, 5000);

begin();
