// SigmaPrompt fleet console (docs/console.md). Vanilla JS, no build step. The bearer token lives in sessionStorage
// and goes out as an Authorization header only (no cookies: nothing for a cross-site request to ride on).
"use strict";

const LEVELS = ["nominal", "degraded", "protective stop", "emergency stop"];
const AUTHORITIES = ["Primary AI", "Edge AI", "mechanical fallback"];
const TASK_STATES = ["accepted", "refused", "active", "succeeded", "failed", "canceled", "preempted"];
const SVG = "http://www.w3.org/2000/svg";
const HUMAN_FADE_S = 30, HUMAN_HIDE_S = 120;  // people seen: faded over 30 s, not drawn once 2 min old
const $ = (id) => document.getElementById(id);
const S = {
  session: JSON.parse(sessionStorage.getItem("sigma.session") || "null"),
  site: sessionStorage.getItem("sigma.site"),
  robots: new Map(), robotEls: new Map(), humanEls: new Map(), tasks: new Map(), leader: null, map: null, places: [],
  clockOffset: 0,  // server clock - page clock [s], from each snapshot (ages of people seen use the server's clock)
  stream: null, picking: null, detail: null, renderQueued: false,
};

function el(tag, attrs = {}, text) {
  const e = tag === "svg" || attrs.svg ? document.createElementNS(SVG, tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (k !== "svg") e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}
function svg(tag, attrs = {}, text) { return el(tag, { ...attrs, svg: true }, text); }
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function api(path, options = {}) {
  const headers = { ...(options.headers || {}) };
  if (S.session) headers.Authorization = "Bearer " + S.session.token;
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(path, { ...options, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
  if (r.status === 401 && S.session) { signOut("Your session has expired: sign in again."); throw new Error("unauthenticated"); }
  const data = (r.headers.get("content-type") || "").includes("json") ? await r.json() : null;
  if (!r.ok) { const err = new Error((data && (data.detail || data.title)) || r.statusText); err.status = r.status; throw err; }
  return data;
}

// ---- sign-in ----
async function signIn(ev) {
  ev.preventDefault();
  $("login-error").textContent = "";
  try {
    const s = await api("/console/api/login", { method: "POST", body: { username: $("login-user").value, password: $("login-password").value } });
    S.session = s;
    sessionStorage.setItem("sigma.session", JSON.stringify(s));
    $("login-password").value = "";
    await start();
  } catch (e) { $("login-error").textContent = e.status === 401 ? "Unknown user or wrong password." : "Sign-in failed: " + e.message; }
}
function signOut(message) {
  if (S.stream) S.stream.abort();
  S.session = null;
  sessionStorage.removeItem("sigma.session");
  $("app-view").hidden = true; $("login-view").hidden = false;
  $("login-error").textContent = message || "";
}
const canWrite = () => S.session && ["fleet_admin", "site_manager"].includes(S.session.role);

// ---- start and site choice ----
async function start() {
  $("login-view").hidden = true; $("app-view").hidden = false;
  $("whoami").textContent = `${S.session.subject} (${S.session.role.replace("_", " ")})`;
  $("task-form").hidden = !canWrite();
  // First render: the site this tab showed last (or the user's first site) starts streaming at once, while the list
  // of sites loads, instead of after it (one round trip less before the robots are drawn).
  S.site = S.site || (S.session.sites || [])[0] || null;
  const early = S.site ? openSite() : null;
  let sites = [];
  for (let i = 0; ; i++) {
    try { sites = (await api("/v1/sites?limit=1000")).items; break; }
    catch (e) { if (!S.session) return; $("conn").textContent = "API unreachable"; await sleep(Math.min(5000, 500 * (i + 1))); }
  }
  const sel = $("site-select"); sel.replaceChildren();
  for (const s of sites) sel.append(el("option", { value: s.site_id }, s.name ? `${s.site_id} — ${s.name}` : s.site_id));
  if (!sites.some((s) => s.site_id === S.site)) { S.site = sites.length ? sites[0].site_id : null; sel.value = S.site || ""; await openSite(); }
  else { sel.value = S.site; await early; }
  route();
}

async function openSite() {
  if (S.stream) S.stream.abort();
  S.robots.clear(); S.robotEls.clear(); S.humanEls.clear(); S.tasks.clear(); S.leader = null;
  if (!S.site) { $("map-note").textContent = "No site is visible to you."; return; }
  sessionStorage.setItem("sigma.site", S.site);
  const m = $("map"); m.replaceChildren(svg("g", { id: "map-bg" }), svg("g", { id: "humans" }), svg("g", { id: "robots" }));
  m.setAttribute("viewBox", "-15.5 -10.5 31 21");  // until the site's floor plan has arrived
  stream(S.site);  // robots are drawn as soon as the snapshot arrives; the floor plan fills in underneath
  const site = S.site;
  const [map, places] = await Promise.all([
    api(`/console/api/sites/${site}/map`).then((r) => r.map, () => null),
    api(`/v1/sites/${site}/places`).then((r) => r.items, () => [])]);
  if (site !== S.site) return;
  S.map = map; S.places = places;
  drawMap();
  fillPlaces();
}

// ---- live stream: one fetch-based server-sent-events connection per site ----
function setConn(live, text) { const c = $("conn"); c.className = "conn " + (live ? "live" : "down"); c.textContent = text; }

async function stream(site) {
  const ctrl = new AbortController();
  S.stream = ctrl;
  let failures = 0;
  while (!ctrl.signal.aborted) {
    try {
      performance.mark("console:stream-requested");  // the first render's steps (bench/console_render.py)
      const r = await fetch(`/console/api/sites/${site}/events`, { headers: { Authorization: "Bearer " + S.session.token }, signal: ctrl.signal });
      performance.mark("console:stream-answered");
      if (r.status === 401) { signOut("Your session has expired: sign in again."); return; }
      if (!r.ok) throw new Error("HTTP " + r.status);
      const reader = r.body.getReader(), decoder = new TextDecoder();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += decoder.decode(value, { stream: true });
        let i;
        while ((i = buf.indexOf("\n\n")) >= 0) { onBlock(buf.slice(0, i)); buf = buf.slice(i + 2); }
        failures = 0;
      }
    } catch (e) {
      if (ctrl.signal.aborted) return;
      failures++;
      setConn(false, "reconnecting…");
      await sleep(Math.min(5000, 300 * failures));
    }
  }
}

function onBlock(block) {
  let kind = "message", data = "";
  for (const line of block.split("\n")) {
    if (line.startsWith("event: ")) kind = line.slice(7);
    else if (line.startsWith("data: ")) data += line.slice(6);
  }
  if (!data) return;
  const msg = JSON.parse(data);
  if (kind === "snapshot") {
    performance.mark("console:snapshot-parsed");
    // Every stream starts with one (and reconnects every 25 s): the drawn robots are kept and updated in place,
    // only those no longer in the site are removed.
    const present = new Set(msg.robots.map((r) => r.robot_id));
    S.robots.clear(); S.tasks.clear();
    for (const els of [S.robotEls, S.humanEls]) {
      for (const [id, g] of [...els]) if (!present.has(id)) { g.remove(); els.delete(id); }
    }
    if (typeof msg.server_time === "number") S.clockOffset = msg.server_time - Date.now() / 1000;
    applyDelta({ robots: msg.robots, tasks: msg.tasks, leader: msg.leader || { robot_id: null } });
    performance.mark("console:snapshot-applied");
    setConn(true, "live");
  } else if (kind === "delta") {
    applyDelta(msg);
  }
}

function applyDelta(d) {
  if (d.leader !== undefined) {
    const old = S.leader && S.robotEls.get(S.leader.robot_id);
    if (old) old.classList.remove("leader");
    S.leader = d.leader && d.leader.robot_id ? d.leader : null;
  }
  const fresh = (d.robots || []).length > 20 ? document.createDocumentFragment() : null;  // a snapshot: insert once
  for (const r of d.robots || []) {
    const robot = Object.assign(S.robots.get(r.robot_id) || {}, r);
    S.robots.set(r.robot_id, robot);
    drawRobot(robot, fresh);
    if (r.humans !== undefined) drawHumans(robot);
    if (S.detail && S.detail.id === r.robot_id) liveDetail(robot);
  }
  if (fresh && fresh.firstChild) $("robots").append(fresh);
  if (S.leader) { const l = S.robotEls.get(S.leader.robot_id); if (l) { l.classList.add("leader"); l.append(leaderMark()); } }
  for (const t of d.tasks || []) S.tasks.set(t.task_id, t);
  if (d.tasks && d.tasks.length) queueRender();
  $("robot-count").textContent = `${S.robots.size} robots`;
  if (S.detail) facts(S.robots.get(S.detail.id));
}

// ---- map ----
function drawMap() {
  const m = $("map-bg"); m.replaceChildren();
  const b = S.map ? S.map.bounds : [-15, -10, 15, 10];
  $("map").setAttribute("viewBox", `${b[0] - 0.5} ${-b[3] - 0.5} ${b[2] - b[0] + 1} ${b[3] - b[1] + 1}`);
  $("map-note").textContent = S.map ? "" : "No floor plan uploaded for this site (sigma-cloud console map SITE WORLD.yaml).";
  const pt = (p) => `${p[0]},${-p[1]}`;
  if (S.map) {
    for (const z of S.map.zones) {
      const poly = svg("polygon", { class: `zone zone-${z.kind}`, points: z.polygon.map(pt).join(" ") });
      poly.append(svg("title", {}, `${z.name} (${z.kind.replace("_", " ")})`));
      m.append(poly);
    }
    for (const s of S.map.shelves) {
      m.append(svg("rect", { class: "shelf", x: s.center[0] - s.half_size[0], y: -s.center[1] - s.half_size[1],
        width: 2 * s.half_size[0], height: 2 * s.half_size[1] }));
    }
    for (const d of S.map.docks) m.append(svg("circle", { class: "dock", cx: d.x, cy: -d.y, r: 0.35, "data-place": d.name }));
  }
  for (const p of S.places) {
    const g = svg("rect", { class: "place", x: p.x - 0.2, y: -p.y - 0.2, width: 0.4, height: 0.4, "data-place": p.name });
    g.append(svg("title", {}, `${p.name} (${p.kind})`));
    m.append(g, svg("text", { class: "label", x: p.x + 0.3, y: -p.y - 0.3 }, p.name));
  }
}

// One star, moved into the leader's group (drawn only there).
function leaderMark() {
  if (!S.leaderMark) S.leaderMark = svg("polygon", { class: "leader-mark", points: "0,-0.95 0.15,-0.65 0.45,-0.65 0.2,-0.45 0.3,-0.15 0,-0.33 -0.3,-0.15 -0.2,-0.45 -0.45,-0.65 -0.15,-0.65" });
  return S.leaderMark;
}

// Two children per robot, no listener of its own (a click on the map finds the robot): 1,000 robots stay light.
// New robots are cloned from one template into `into` (a fragment for a snapshot: one insertion for all of them).
let robotTemplate = null;
function drawRobot(r, into) {
  let g = S.robotEls.get(r.robot_id);
  if (r.x === undefined) return;
  if (!g) {
    if (!robotTemplate) {
      robotTemplate = svg("g", { class: "robot" });
      robotTemplate.append(svg("path", { d: "M0.6,0 L-0.4,0.35 L-0.4,-0.35 Z" }), svg("text", { x: 0.5, y: 0.7 }));
    }
    g = robotTemplate.cloneNode(true);
    g.id = "robot-" + r.robot_id; g.dataset.robot = r.robot_id; g.lastChild.textContent = r.robot_id;
    (into || $("robots")).append(g);
    S.robotEls.set(r.robot_id, g);
  }
  const lvl = Number.isInteger(r.level) && r.level <= 3 ? r.level : "x";
  g.setAttribute("class", `robot lvl-${lvl}` + (S.leader && S.leader.robot_id === r.robot_id ? " leader" : ""));
  g.setAttribute("transform", `translate(${r.x},${-r.y})`);
  g.firstChild.setAttribute("transform", `rotate(${(-r.yaw * 180) / Math.PI})`);
  g.dataset.x = r.x; g.dataset.y = r.y; g.dataset.level = lvl;
}

// People the robot's perception saw (channel `humans`), placed on the map by the cloud with the robot's pose when the
// report arrived; drawn with their age, faded as they get older.
function drawHumans(r) {
  let g = S.humanEls.get(r.robot_id);
  if (!r.humans || !r.humans.length) { if (g) { g.remove(); S.humanEls.delete(r.robot_id); } return; }
  if (!g) {
    g = svg("g", { class: "humans", id: "humans-" + r.robot_id, "data-robot": r.robot_id });
    $("humans").append(g);
    S.humanEls.set(r.robot_id, g);
  }
  g.replaceChildren(...r.humans.map(([x, y, name]) => {
    const h = svg("g", { class: "human", transform: `translate(${x},${-y})`, "data-x": x, "data-y": y, "data-name": name });
    h.append(svg("circle", { r: 0.3 }), svg("text", { class: "age", x: 0.35, y: -0.3 }),
      svg("title", {}, `person ${name || "(untracked)"} seen by ${r.robot_id}`));
    return h;
  }));
  g.dataset.ts = r.humans_ts;
  ageHumans(g);
}
function ageHumans(g) {
  const age = Math.max(0, Date.now() / 1000 + S.clockOffset - Number(g.dataset.ts));
  g.dataset.age = age.toFixed(1);
  g.setAttribute("opacity", Math.max(0.3, 1 - age / HUMAN_FADE_S).toFixed(2));
  g.classList.toggle("stale", age > HUMAN_HIDE_S);
  const label = age < 10 ? age.toFixed(1) + " s" : age < 120 ? Math.round(age) + " s" : Math.round(age / 60) + " min";
  for (const t of g.querySelectorAll("text.age")) t.textContent = label;
}
setInterval(() => { for (const g of S.humanEls.values()) ageHumans(g); }, 1000);

$("map") && $("map").addEventListener("click", (ev) => {
  const robot = !S.picking && ev.target.closest && ev.target.closest(".robot");
  if (robot) { location.hash = "#/robot/" + encodeURIComponent(robot.dataset.robot); return; }
  const name = ev.target.getAttribute && ev.target.getAttribute("data-place");
  if (!S.picking || !name) return;
  const target = $(S.picking.shift());
  if (target && [...target.options].some((o) => o.value === name)) target.value = name;
  if (!S.picking.length) { S.picking = null; $("map").classList.remove("picking"); location.hash = "#/tasks"; }
});

// ---- tasks ----
function fillPlaces() {
  for (const sel of document.querySelectorAll(".place-select")) {
    sel.replaceChildren(...S.places.map((p) => el("option", { value: p.name }, `${p.name} (${p.kind})`)));
  }
}
function kindChanged() {
  const k = $("task-kind").value;
  $("lbl-place").hidden = k === "deliver"; $("lbl-pickup").hidden = $("lbl-dropoff").hidden = k !== "deliver";
}
async function createTask(ev) {
  ev.preventDefault();
  $("task-error").textContent = "";
  const k = $("task-kind").value;
  const body = { kind: k, priority: Number($("task-priority").value || 0) };
  if (k === "deliver") { body.pickup = $("task-pickup").value; body.dropoff = $("task-dropoff").value; } else body.place = $("task-place").value;
  try {
    const t = await api(`/v1/sites/${S.site}/tasks`, { method: "POST", body, headers: idempotencyKey() });
    S.tasks.set(t.task_id, { ...t, task_id: String(t.task_id) });
    queueRender();
  } catch (e) { $("task-error").textContent = "Not created: " + e.message; }
}
// A retried click creates one task (crypto.randomUUID exists in secure contexts: https or localhost).
const idempotencyKey = () => (globalThis.crypto && crypto.randomUUID ? { "Idempotency-Key": crypto.randomUUID() } : {});
async function cancelTask(id) {
  try { await api(`/v1/sites/${S.site}/tasks/${id}/cancel`, { method: "POST", body: { reason: "cancelled in the console" } }); }
  catch (e) { $("task-error").textContent = "Not cancelled: " + e.message; }
}
function queueRender() {
  if (S.renderQueued) return;
  S.renderQueued = true;
  requestAnimationFrame(() => { S.renderQueued = false; renderTasks(); });
}
function renderTasks() {
  const rows = [...S.tasks.values()].sort((a, b) => String(b.created_at).localeCompare(String(a.created_at))).slice(0, 300);
  const body = $("task-list").tBodies[0];
  body.replaceChildren(...rows.map((t) => {
    const tr = el("tr", { "data-task": t.task_id });
    const where = t.kind === "deliver" ? `${t.pickup} → ${t.dropoff}` : t.place;
    tr.append(el("td", {}, new Date(t.created_at).toLocaleTimeString()), el("td", {}, t.kind), el("td", {}, where || ""),
      el("td", { class: "state state-" + t.state }, t.state), el("td", {}, t.robot_id || ""), el("td", {}, t.reason || ""));
    const td = el("td");
    if (canWrite() && ["queued", "assigned", "in_progress"].includes(t.state)) {
      const b = el("button", { class: "cancel" }, "Cancel");
      b.addEventListener("click", () => cancelTask(t.task_id));
      td.append(b);
    }
    tr.append(td);
    return tr;
  }));
}

// ---- robot detail ----
function facts(r) {
  if (!r) return;
  const task = [...S.tasks.values()].find((t) => t.robot_id === r.robot_id && ["assigned", "in_progress"].includes(t.state));
  const rows = [
    ["safety", Number.isInteger(r.level) ? LEVELS[r.level] || r.level : "no status"],
    ["authority", Number.isInteger(r.authority) ? AUTHORITIES[r.authority] || r.authority : "unknown"],
    ["active faults", (r.faults || []).join(", ") || "none"],
    ["position", r.x === undefined ? "unknown" : `${r.x.toFixed(2)}, ${r.y.toFixed(2)} m, heading ${(r.yaw * 57.2958).toFixed(0)}°`],
    ["speed", r.speed == null ? "unknown" : r.speed.toFixed(2) + " m/s"],
    ["battery", r.battery == null ? "unknown" : (r.battery * 100).toFixed(0) + " %"],
    ["task", task ? `${task.kind} ${task.place || task.pickup + " → " + task.dropoff} (${task.state})` : "none"],
    ["robot reports", r.task_state == null ? "no task status" : `${TASK_STATES[r.task_state] || r.task_state} ${r.task_progress != null ? (r.task_progress * 100).toFixed(0) + " %" : ""}`],
    ["swarm leader", S.leader && S.leader.robot_id === r.robot_id ? `yes (term ${S.leader.term})` : "no"],
    ["people seen", r.humans === undefined ? "no report" : `${r.humans.length} (${Math.max(0, Date.now() / 1000 + S.clockOffset - r.humans_ts).toFixed(0)} s ago)`],
  ];
  $("robot-facts").replaceChildren(...rows.map(([k, v]) => { const tr = el("tr"); tr.append(el("th", {}, k), el("td", { "data-fact": k }, String(v))); return tr; }));
}

function plot(id, points) {
  const s = $(id); s.replaceChildren();
  const W = 320, H = 120;
  if (!points.length) { s.append(svg("text", { x: 10, y: 60 }, "no data")); return; }
  if (points.length === 1) points = [points[0], [points[0][0] + 1, points[0][1]]];  // one value: a flat line
  const t0 = points[0][0], t1 = Math.max(points[points.length - 1][0], t0 + 1);
  let lo = Math.min(...points.map((p) => p[1])), hi = Math.max(...points.map((p) => p[1]));
  if (hi - lo < 1e-6) { lo -= 1; hi += 1; }
  const xy = points.map(([t, v]) => `${(30 + ((t - t0) / (t1 - t0)) * (W - 40)).toFixed(1)},${(H - 15 - ((v - lo) / (hi - lo)) * (H - 25)).toFixed(1)}`);
  s.setAttribute("viewBox", `0 0 ${W} ${H}`);
  s.append(svg("polyline", { points: xy.join(" ") }), svg("text", { x: 0, y: 12 }, hi.toFixed(1)), svg("text", { x: 0, y: H - 15 }, lo.toFixed(1)),
    svg("text", { x: W - 60, y: H - 2 }, `${((t1 - t0) / 60).toFixed(1)} min`));
  s.dataset.points = points.length;
}
const speedOf = (p) => (Array.isArray(p.linear) ? Math.hypot(p.linear[0] || 0, p.linear[1] || 0) : null);
const hottest = (p) => (Array.isArray(p.temperature) && p.temperature.length ? Math.max(...p.temperature) : null);
const SERIES = { battery: ["plot-battery", (p) => (p.percentage == null ? null : p.percentage * 100)],
  actuator_health: ["plot-temp", hottest], odom: ["plot-speed", speedOf] };

async function openRobot(id) {
  S.detail = { id, series: { battery: [], actuator_health: [], odom: [] }, seqs: {} };
  $("robot-title").textContent = id;
  facts(S.robots.get(id) || { robot_id: id });
  const fox = S.map && S.map.foxglove ? S.map.foxglove[id] || (S.map.foxglove["*"] || "").replace("{robot_id}", id) : "";
  const link = $("foxglove-link");
  link.hidden = !fox;
  if (fox) link.href = "https://app.foxglove.dev/view?ds=foxglove-websocket&ds.url=" + encodeURIComponent(fox);
  const end = new Date(), start = new Date(end - 15 * 60 * 1000);
  await Promise.all(Object.entries(SERIES).map(async ([ch, [plotId, f]]) => {
    try {
      const q = `start=${start.toISOString()}&end=${end.toISOString()}&channel=${ch}&bucket_s=5&limit=1000`;
      const items = (await api(`/v1/robots/${encodeURIComponent(id)}/telemetry?${q}`)).items;
      S.detail.series[ch] = items.map((i) => [Date.parse(i.ts) / 1000, f(i.payload)]).filter((p) => p[1] != null);
    } catch { S.detail.series[ch] = []; }
    plot(plotId, S.detail.series[ch]);
  }));
  try {
    const ev = (await api(`/v1/safety-events?robot_id=${encodeURIComponent(id)}&limit=50`)).items;
    $("robot-events").tBodies[0].replaceChildren(...ev.map((e) => {
      const tr = el("tr");
      tr.append(el("td", {}, new Date(e.ts).toLocaleString()), el("td", {}, LEVELS[e.level] || e.level),
        el("td", {}, AUTHORITIES[e.authority] || e.authority), el("td", {}, e.cause || ""));
      return tr;
    }));
  } catch { /* shown empty */ }
  try { health((await api(`/v1/robots/${encodeURIComponent(id)}/health?limit=1`)).latest); }
  catch (e) { $("robot-health").textContent = e.status === 404 ? "No twin health for this robot." : "Unavailable: " + e.message; }
  pollDetail(id);
}

// One robot's channels while its page is open (the map itself never polls).
async function pollDetail(id) {
  while (S.detail && S.detail.id === id && location.hash.startsWith("#/robot/")) {
    try {
      const latest = await api(`/v1/robots/${encodeURIComponent(id)}/latest`);
      for (const c of latest.channels) {
        if (!SERIES[c.channel] || S.detail.seqs[c.channel] === c.seq) continue;
        S.detail.seqs[c.channel] = c.seq;
        const v = SERIES[c.channel][1](c.payload);
        if (v == null) continue;
        const series = S.detail.series[c.channel];
        series.push([Date.parse(c.ts) / 1000, v]);
        if (series.length > 2000) series.shift();
        plot(SERIES[c.channel][0], series);
      }
    } catch { /* the stream shows the connection state */ }
    await sleep(2000);
  }
}
function liveDetail(r) { facts(r); }

const fmt = (v, d = 1) => (v == null ? "—" : Number(v).toFixed(d));
const when = (t) => new Date(t * 1000).toLocaleString();
function table(head, rows) {
  const t = el("table", { class: "list" }), hr = el("tr");
  for (const h of head) hr.append(el("th", {}, h));
  t.append(el("thead"), el("tbody")); t.tHead.append(hr);
  for (const r of rows) { const tr = el("tr"); for (const c of r) tr.append(c instanceof Node ? wrap(c) : el("td", {}, String(c))); t.tBodies[0].append(tr); }
  return t;
}
function wrap(node) { const td = el("td"); td.append(node); return td; }
// Remaining useful life band: q05..q95 as a bar, q50 as a tick, on a scale shared by the robot's components.
function rulBand(rul, scale) {
  const s = svg("svg", { class: "rul", viewBox: "0 0 200 14" });
  if (!rul || rul.q50 == null) { s.append(svg("text", { x: 2, y: 11 }, "beyond the forecast horizon")); return s; }
  const x = (v) => (Math.min(v ?? scale, scale) / scale) * 196 + 2;
  s.append(svg("rect", { x: x(rul.q05), y: 3, width: Math.max(1, x(rul.q95) - x(rul.q05)), height: 8, class: "band" }),
    svg("rect", { x: x(rul.q50) - 1, y: 0, width: 2, height: 14, class: "median" }));
  return s;
}
function health(report) {
  const box = $("robot-health"); box.replaceChildren();
  if (!report) { box.textContent = "No health report from this robot's twin yet."; return; }
  const scale = Math.max(1, ...report.components.map((c) => (c.rul_h && c.rul_h.q95) || 0));
  box.append(el("p", {}, `Report ${when(report.ts)}` + (report.spoofed_sensors.length ? ` — sensors contradicting physics: ${report.spoofed_sensors.join(", ")}` : "")),
    table(["component", "health", "risk", `RUL q05–q95 (scale ${fmt(scale, 0)} h)`, "RUL q50 [h]", "mode", "window"],
      report.components.map((c) => [c.name, c.health == null ? "—" : fmt(c.health * 100, 0) + " %", fmt(c.risk, 2), rulBand(c.rul_h, scale),
        fmt(c.rul_h && c.rul_h.q50), c.dominant_mode, c.window ? `${when(c.window.opens_at)} – ${when(c.window.closes_at)}` : "—"])));
}

// ---- maintenance and incidents ----
async function openOps() {
  try {
    const m = await api(`/v1/sites/${S.site}/maintenance`), box = $("maintenance"), p = m.policy;
    box.replaceChildren(el("p", {}, `${m.robots_reporting} robots report health. Policy${m.policy_configured ? "" : " (defaults)"}: ` +
      `windows of ${p.duration_h} h ending ${p.lead_time_h} h before the predicted limit, off-peak ${p.off_peak_start_hour}:00–${p.off_peak_end_hour}:00 UTC, at most ${p.max_out} robot(s) out at once.`),
      m.windows.length ? table(["robot", "component", "mode", "start", "end", "limit (RUL q05)", "off-peak"],
        m.windows.map((w) => [w.robot_id, w.component, w.mode, when(w.start), when(w.end), when(w.deadline), w.off_peak ? "yes" : "no"]))
        : el("p", {}, "No maintenance window is needed."),
      ...(m.infeasible.length ? [el("p", { class: "error" }, "Cannot be placed before the limit:"),
        table(["robot", "component", "mode", "limit", "why"], m.infeasible.map((u) => [u.robot_id, u.component, u.mode, when(u.deadline), u.reason]))] : []));
  } catch (e) { $("maintenance").textContent = e.status === 404 ? "This cloud does not serve a maintenance plan." : "Unavailable: " + e.message; }
  try {
    const items = (await api("/v1/incidents?limit=100")).items.filter((i) => i.site_id === S.site);
    $("incidents").tBodies[0].replaceChildren(...items.map((i) => {
      const tr = el("tr", { "data-incident": i.incident_id });
      tr.append(el("td", {}, new Date(i.at * 1000).toLocaleString()), el("td", {}, i.robot_id), el("td", {}, i.kind),
        el("td", {}, i.summary), el("td", { class: "outcome" }, (i.outcome || "open").replace("_", " ")),
        el("td", {}, i.resolution || ""));
      tr.addEventListener("click", () => similar(i.incident_id));
      return tr;
    }));
  } catch (e) { $("similar").textContent = "Incidents unavailable: " + e.message; }
}
async function similar(id) {
  const box = $("similar");
  try {
    const s = await api(`/v1/incidents/${id}/similar?k=5`);
    for (const tr of $("incidents").tBodies[0].rows) tr.classList.toggle("selected", tr.dataset.incident === id);
    box.replaceChildren(el("p", {}, s.items.length ? "Similar past incidents (nearest first):" : "No similar past incident."),
      ...(s.items.length ? [table(["time", "robot", "kind", "summary", "outcome", "resolution", "distance"],
        s.items.map((x) => [when(x.at), x.robot_id, x.kind, x.summary, (x.outcome || "open").replace("_", " "),
          x.resolution || "", fmt(x.distance, 3)]))] : []));
    box.dataset.incident = id;
  } catch (e) { box.textContent = "Similar incidents unavailable: " + e.message; }
}

// ---- routing ----
function route() {
  if (!S.session) return;
  const h = location.hash || "#/map";
  for (const v of document.querySelectorAll(".view")) v.hidden = true;
  if (h.startsWith("#/robot/")) { $("robot-view").hidden = false; openRobot(decodeURIComponent(h.slice(8))); return; }
  S.detail = null;
  if (h === "#/tasks") { $("tasks-view").hidden = false; renderTasks(); }
  else if (h === "#/ops") { $("ops-view").hidden = false; openOps(); }
  else $("map-view").hidden = false;
}

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", signIn);
  $("logout").addEventListener("click", () => signOut());
  $("site-select").addEventListener("change", async (e) => { S.site = e.target.value; await openSite(); route(); });
  $("task-kind").addEventListener("change", kindChanged);
  $("task-form").addEventListener("submit", createTask);
  $("task-pick").addEventListener("click", () => {
    S.picking = $("task-kind").value === "deliver" ? ["task-pickup", "task-dropoff"] : ["task-place"];
    location.hash = "#/map";
    $("map").classList.add("picking");
  });
  window.addEventListener("hashchange", route);
  if (S.session) start(); else $("login-view").hidden = false;
});
