"use strict";
// The dashboard polls /api/status (the table), /api/history (the
// charts: the server keeps the last 15 minutes, so a reload of the page
// keeps them) and, less often, /api/stats (downloads), and drives the admin API with a token kept in this tab
// (sessionStorage) only. It loads nothing from anywhere else.
const period = 2000;
const palette = ["#3b6fd8", "#d8573b", "#1b9e5a", "#9b4dca", "#c98a00", "#0f8fa3", "#d6336c", "#5c6b7a", "#7a9a01", "#a0522d"];
let history = { times: [], pools: [] };
let lastStatus = null;
// downloads: pool -> {days, files, countries} from /api/stats, or
// {off: message}; refreshed every statsEvery polls (a minute: a query by
// file reads every file of every day of its range), and at every poll
// while a pool has none yet.
const downloads = {};
const statsEvery = 30;
let polls = 0;
const rowErrors = {}; // "pool/mirror" -> message shown in that row

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== false && v !== undefined) e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

const svgNS = "http://www.w3.org/2000/svg";
function svg(tag, attrs, ...children) {
  const e = document.createElementNS(svgNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function bps(v) {
  if (!v) return "–";
  const units = ["bit/s", "kbit/s", "Mbit/s", "Gbit/s", "Tbit/s"];
  let i = 0;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return v.toFixed(v < 10 ? 2 : 1) + " " + units[i];
}

function ago(t) {
  if (!t) return "never";
  const s = Math.max(0, (Date.now() - Date.parse(t)) / 1000);
  return s < 1 ? "now" : s.toFixed(0) + " s ago";
}

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

// chart draws one time series per mirror over the window, as an SVG line
// chart with a y axis from 0, and a legend with the latest values.
function chart(title, times, series, opts) {
  const W = 600, H = 170, L = 44, R = 8, T = 10, B = 22;
  let max = opts.max || 0;
  if (!opts.max) for (const s of series) for (const v of s.values) if (v !== null && v > max) max = v;
  max = opts.max || niceMax(max);
  // The x axis spans the samples there are, at least a minute, at most
  // the window.
  const t1 = times.length ? times[times.length - 1] : Date.now();
  const t0 = Math.min(t1 - 60000, Math.max(t1 - history.window_s * 1000, times.length ? times[0] : t1));
  const x = t => L + (W - L - R) * (t - t0) / (t1 - t0 || 1);
  const y = v => T + (H - T - B) * (1 - v / max);
  const g = svg("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img" });
  for (const f of [0, 0.5, 1]) {
    g.append(svg("line", { class: "grid", x1: L, x2: W - R, y1: y(f * max), y2: y(f * max) }));
    g.append(svg("text", { x: L - 4, y: y(f * max) + 3, "text-anchor": "end" }, opts.format(f * max)));
  }
  const span = (t1 - t0) / 1000;
  g.append(svg("text", { x: L, y: H - 6 }, "-" + (span >= 120 ? Math.round(span / 60) + " min" : Math.round(span) + " s")));
  g.append(svg("text", { x: W - R, y: H - 6, "text-anchor": "end" }, "now"));
  const legend = el("div", { class: "legend" });
  const latest = [];
  series.forEach((s, k) => {
    const color = palette[k % palette.length];
    let d = "", pen = false, last = null;
    s.values.forEach((v, i) => {
      if (v === null || v === undefined) { pen = false; return; }
      d += (pen ? "L" : "M") + x(times[i]).toFixed(1) + " " + y(Math.min(v, max)).toFixed(1) + " ";
      pen = true; last = v;
    });
    if (d) g.append(svg("path", { class: "series", d, stroke: color, "data-mirror": s.name }));
    if (last !== null) { // the latest point, visible even before there is a line
      let i = s.values.length - 1;
      while (s.values[i] === null) i--;
      g.append(svg("circle", { cx: x(times[i]).toFixed(1), cy: y(Math.min(last, max)).toFixed(1), r: 2.5, fill: color }));
    }
    legend.append(el("span", {}, el("i", { style: "background:" + color }), s.name + " " + (last === null ? "–" : opts.format(last))));
    latest.push(s.name + " " + (last === null ? "no data" : opts.format(last)));
  });
  g.setAttribute("aria-label", title + " over the last " + Math.round(history.window_s / 60) + " minutes; now: " + latest.join(", "));
  return el("figure", {}, el("figcaption", {}, title), g, legend);
}

function poolCharts(name) {
  const ph = history.pools.find(p => p.name === name);
  if (!ph || !history.times.length) return el("p", {}, "Collecting history…");
  const pick = key => ph.mirrors.map(m => ({ name: m.name, values: m[key] }));
  return el("div", { class: "charts" },
    chart("Redirects per second", history.times, pick("redirects_per_s"), { format: v => v >= 100 ? v.toFixed(0) : v.toFixed(1) }),
    chart("Utilisation", history.times, pick("utilization"), { max: 1, format: v => (100 * v).toFixed(0) + " %" }),
    chart("Effective weight", history.times, pick("effective_weight"), { format: v => v.toFixed(v >= 10 ? 0 : 2) }));
}

// dayBars draws downloads per day (rows of by=day, any order) as bars,
// oldest on the left.
function dayBars(rows) {
  const days = rows.slice().sort((a, b) => a.key < b.key ? -1 : 1);
  const W = 600, H = 150, L = 44, R = 8, T = 10, B = 22;
  const max = niceMax(Math.max(0, ...days.map(d => d.downloads)));
  const bw = (W - L - R) / Math.max(1, days.length);
  const y = v => T + (H - T - B) * (1 - v / max);
  const g = svg("svg", { class: "chart days", viewBox: `0 0 ${W} ${H}`, role: "img",
    "aria-label": "Downloads per day: " + days.map(d => d.key + " " + d.downloads).join(", ") });
  for (const f of [0, 0.5, 1]) {
    g.append(svg("line", { class: "grid", x1: L, x2: W - R, y1: y(f * max), y2: y(f * max) }));
    g.append(svg("text", { x: L - 4, y: y(f * max) + 3, "text-anchor": "end" }, Math.round(f * max)));
  }
  days.forEach((d, i) => {
    const bar = svg("rect", { class: "day", x: (L + i * bw + 1).toFixed(1), y: y(d.downloads).toFixed(1),
      width: Math.max(1, bw - 2).toFixed(1), height: (H - B - y(d.downloads)).toFixed(1), "data-day": d.key, "data-downloads": d.downloads });
    bar.append(svg("title", {}, d.key + ": " + d.downloads + " downloads"));
    g.append(bar);
  });
  if (days.length) {
    g.append(svg("text", { x: L, y: H - 6 }, days[0].key));
    g.append(svg("text", { x: W - R, y: H - 6, "text-anchor": "end" }, days[days.length - 1].key));
  }
  return el("figure", {}, el("figcaption", {}, "Downloads per day (UTC)"), g);
}

// topTable lists the rows of a by=file or by=country answer.
function topTable(title, res, cls) {
  const table = el("table", { class: "top " + cls }, el("tr", {}, el("th", { scope: "col" }, title), el("th", { scope: "col" }, "downloads")));
  for (const r of res.rows) {
    table.append(el("tr", {}, el("td", { class: "key" }, r.key),
      el("td", { class: "num" }, r.error ? r.downloads + "–" + (r.downloads + r.error) : r.downloads)));
  }
  if (res.other > 0) table.append(el("tr", { class: "other" }, el("td", {}, "other"), el("td", { class: "num" }, res.other)));
  if (!res.rows.length) table.append(el("tr", {}, el("td", { colspan: 2 }, "no downloads yet")));
  return el("figure", {}, el("figcaption", {}, title + ", " + res.from + " to " + res.to), table);
}

function downloadsPanel(name) {
  const d = downloads[name];
  if (!d) return el("div", { class: "downloads" }, el("p", {}, "Loading download statistics…"));
  if (d.off) return el("div", { class: "downloads" }, el("p", {}, d.off));
  return el("div", { class: "downloads charts", "data-total": d.days.total },
    dayBars(d.days.rows), topTable("Top files", d.files, "files"), topTable("Top countries", d.countries, "countries"));
}

// fetchDownloads reads every pool's downloads per day over the last 30
// days, and its top files and countries over the last 7 (a query by file
// reads every file counted on each day of its range).
async function fetchDownloads(pools) {
  const day = n => new Date(Date.now() - n * 86400000).toISOString().slice(0, 10);
  const to = day(0);
  for (const p of pools) {
    const q = by => fetch("/api/stats?pool=" + encodeURIComponent(p.name) + "&by=" + by + "&from=" + day(by === "day" ? 29 : 6) + "&to=" + to + "&top=10", { cache: "no-store" });
    const res = await q("day");
    if (res.status === 404) { downloads[p.name] = { off: (await res.json()).error }; continue; }
    if (!res.ok) throw new Error("/api/stats: " + res.status + " " + res.statusText);
    const days = await res.json();
    const files = await (await q("file")).json();
    const countries = await (await q("country")).json();
    downloads[p.name] = { days, files, countries };
  }
}

function token() { return sessionStorage.getItem("dispatcher-token") || ""; }

function adminMessage(text, ok) {
  const m = document.getElementById("admin-msg");
  m.textContent = text;
  m.className = ok ? "ok" : "err";
}

function explainFailure(res, body) {
  if (res.status === 401) return "wrong token (401): the server refused it";
  if (res.status === 403) return "the admin API is off (403): start the dispatcher with DISPATCHER_ADMIN_TOKEN";
  return (body && body.error ? body.error : res.status + " " + res.statusText) +
    (body && body.details ? ": " + body.details.join("; ") : "");
}

async function admin(path) {
  const res = await fetch(path, { method: "POST", headers: { Authorization: "Bearer " + token() } });
  let body = null;
  try { body = await res.json(); } catch (e) { /* not JSON */ }
  if (!res.ok) throw new Error(explainFailure(res, body));
  return body;
}

async function setMirror(pool, mirror, action) {
  const key = pool + "/" + mirror;
  try {
    await admin("/api/pools/" + encodeURIComponent(pool) + "/mirrors/" + encodeURIComponent(mirror) + "/" + action);
    delete rowErrors[key];
  } catch (e) {
    rowErrors[key] = action + " failed: " + e.message;
  }
  await poll();
}

function render(st) {
  lastStatus = st;
  const redis = document.getElementById("redis");
  if (!st.redis.configured) { redis.textContent = "redis: not configured (in-process)"; redis.className = "badge warn"; }
  else if (st.redis.connected) { redis.textContent = "redis: connected"; redis.className = "badge ok"; }
  else { redis.textContent = "redis: unreachable, in-process fallback"; redis.className = "badge bad"; }
  document.getElementById("meta").textContent =
    "config " + st.config_sha256.slice(0, 12) + " · snapshot " + st.snapshot_version + " · up since " + new Date(st.started).toLocaleString();
  document.getElementById("reload").disabled = !token();
  // Redirects per second: the latest point of the history, as charted.
  const rates = {};
  for (const p of history.pools) for (const m of p.mirrors) {
    const v = m.redirects_per_s.length ? m.redirects_per_s[m.redirects_per_s.length - 1] : null;
    if (v !== null) rates[p.name + "/" + m.name] = v;
  }
  // Keep the keyboard focus across the redraw.
  const focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.focus : null;
  const main = document.getElementById("pools");
  main.replaceChildren();
  for (const p of st.pools) {
    const total = p.mirrors.reduce((s, m) => s + m.effective_weight, 0);
    const heads = ["mirror", "state", "actions", "weight", "effective", "share", "bandwidth", "utilisation", "redirects", "per s", "last probe", "last poll"];
    if (p.files) heads.push("files held");
    const table = el("table", {}, el("tr", {}, ...heads.map(h => el("th", { scope: "col" }, h))));
    for (const m of p.mirrors) {
      const key = p.name + "/" + m.name;
      const state = !m.enabled ? "drained" : !m.up ? "down" : m.effective_weight === 0 ? "saturated" : "up";
      const share = total > 0 ? (100 * m.effective_weight / total).toFixed(1) + " %" : "–";
      const util = el("span", { class: "bar", title: (100 * m.utilization).toFixed(1) + " %" },
        el("i", { style: "width:" + Math.min(100, 100 * m.utilization).toFixed(1) + "%" }));
      const action = m.enabled ? "drain" : "enable";
      const label = (m.enabled ? "Drain " : "Enable ") + m.name + " in " + p.name;
      const actions = el("td", { class: "actions" },
        el("button", { type: "button", class: "action " + action, "data-focus": key + "/" + action, "aria-label": label,
          disabled: !token(), title: token() ? label : "enter the admin token first",
          onclick: () => setMirror(p.name, m.name, action) }, m.enabled ? "Drain" : "Enable"),
        rowErrors[key] ? el("div", { class: "err", role: "alert" }, rowErrors[key]) : "");
      const row = el("tr", { class: state, "data-mirror": m.name },
        el("th", { scope: "row" }, el("a", { href: m.url }, m.name), m.country ? " (" + m.country + ")" : ""),
        el("td", {}, el("span", { class: "badge " + (state === "up" ? "ok" : state === "down" ? "bad" : "warn") }, state)),
        actions,
        el("td", { class: "num" }, m.weight),
        el("td", { class: "num effective" }, m.effective_weight.toFixed(3)),
        el("td", { class: "num" }, share),
        el("td", { class: "num bandwidth" }, bps(m.bandwidth_bps), m.capacity_bps ? " / " + bps(m.capacity_bps) : ""),
        el("td", {}, util, " ", (100 * m.utilization).toFixed(1) + " %"),
        el("td", { class: "num redirects" }, m.redirects),
        el("td", { class: "num" }, rates[key] === undefined ? "–" : rates[key].toFixed(1)),
        el("td", {}, ago(m.last_probe), m.probe_error ? el("div", { class: "err" }, m.probe_error) : ""),
        el("td", {}, ago(m.last_poll), m.poll_error ? el("div", { class: "err" }, m.poll_error) : ""));
      if (p.files && m.files) {
        // Which mirror is behind, and by how much.
        const f = m.files;
        const behind = f.missing + f.outdated;
        row.append(el("td", { class: "num files" },
          f.listed ? f.held + " / " + p.files.origin_files : "all (not listed)",
          behind > 0 ? el("div", { class: "err" }, f.missing + " missing, " + f.outdated + " outdated") : "",
          f.scan_error ? el("div", { class: "err" }, f.scan_error) : ""));
      } else if (p.files) {
        row.append(el("td", {}, "–"));
      }
      table.append(row);
    }
    main.append(el("section", { "data-pool": p.name, "aria-label": "pool " + p.name },
      el("h2", {}, p.name + " ", el("small", {}, p.strategy + " · " + p.routes.join(" ") + " · " + p.usable + " usable" +
        (p.usable === 0 ? (p.fallback ? " (requests go to the fallback)" : " (requests get 503)") : "") +
        (p.files ? " · " + p.files.origin_files + " origin files, scanned " + ago(p.files.last_scan) + (p.files.scan_error ? " · origin: " + p.files.scan_error : "") : ""))),
      poolCharts(p.name),
      el("div", { class: "scroll" }, table),
      el("h3", {}, "Downloads"),
      downloadsPanel(p.name)));
  }
  if (focused) {
    const again = document.querySelector('[data-focus="' + CSS.escape(focused) + '"]') ||
      document.querySelector('[data-focus^="' + CSS.escape(focused.split("/").slice(0, 2).join("/")) + '/"]');
    if (again) again.focus();
  }
  document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
}

// mergeHistory appends the samples fetched since the last ones, and keeps
// the window.
function mergeHistory(h) {
  if (!history.times.length) { history = h; return; }
  const names = new Set(h.pools.map(p => p.name + "/" + p.mirrors.map(m => m.name).join(",")));
  const same = history.pools.length === h.pools.length && history.pools.every(p => names.has(p.name + "/" + p.mirrors.map(m => m.name).join(",")));
  if (!same) { history = null; return; } // the configuration changed: fetch the whole window again
  const cut = h.times.length ? h.times[h.times.length - 1] - h.window_s * 1000 : 0;
  let drop = 0;
  const times = history.times.concat(h.times);
  while (drop < times.length && times[drop] < cut) drop++;
  history.times = times.slice(drop);
  for (const p of history.pools) {
    const np = h.pools.find(q => q.name === p.name);
    for (const m of p.mirrors) {
      const nm = np.mirrors.find(q => q.name === m.name);
      for (const k of ["redirects_per_s", "utilization", "effective_weight"]) m[k] = m[k].concat(nm[k]).slice(drop);
    }
  }
}

async function poll() {
  try {
    const res = await fetch("/api/status", { cache: "no-store" });
    if (!res.ok) throw new Error("/api/status: " + res.status + " " + res.statusText);
    const st = await res.json();
    const since = history && history.times.length ? "?since=" + history.times[history.times.length - 1] : "";
    const hres = await fetch("/api/history" + since, { cache: "no-store" });
    if (!hres.ok) throw new Error("/api/history: " + hres.status + " " + hres.statusText);
    mergeHistory(await hres.json());
    if (history === null) {
      const full = await fetch("/api/history", { cache: "no-store" });
      history = await full.json();
    }
    const empty = st.pools.some(p => !downloads[p.name] || (!downloads[p.name].off && downloads[p.name].days.total === 0));
    if (polls++ % statsEvery === 0 || empty) await fetchDownloads(st.pools);
    render(st);
  } catch (e) {
    document.getElementById("updated").textContent = "error: " + e.message;
  }
}

document.getElementById("admin").addEventListener("submit", ev => {
  ev.preventDefault();
  const input = document.getElementById("token");
  if (!input.value) { adminMessage("enter the token the dispatcher runs with", false); return; }
  sessionStorage.setItem("dispatcher-token", input.value);
  input.value = "";
  adminMessage("token kept in this tab", true);
  if (lastStatus) render(lastStatus);
});
document.getElementById("forget-token").addEventListener("click", () => {
  sessionStorage.removeItem("dispatcher-token");
  adminMessage("token forgotten", true);
  if (lastStatus) render(lastStatus);
});
document.getElementById("reload").addEventListener("click", async () => {
  try {
    const body = await admin("/api/reload");
    adminMessage("reloaded: config " + body.config_sha256.slice(0, 12), true);
  } catch (e) {
    adminMessage("reload failed: " + e.message, false);
  }
  await poll();
});

document.getElementById("period").textContent = period / 1000;
poll();
setInterval(poll, period);
