"use strict";
// The dashboard polls /api/status and redraws. It computes redirect rates
// from the difference between two polls.
const period = 2000;
let previous = null;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
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

function render(st) {
  const redis = document.getElementById("redis");
  if (!st.redis.configured) { redis.textContent = "redis: not configured (in-process)"; redis.className = "badge warn"; }
  else if (st.redis.connected) { redis.textContent = "redis: connected"; redis.className = "badge ok"; }
  else { redis.textContent = "redis: unreachable, in-process fallback"; redis.className = "badge bad"; }
  document.getElementById("meta").textContent =
    "config " + st.config_sha256.slice(0, 12) + " · snapshot " + st.snapshot_version + " · up since " + new Date(st.started).toLocaleString();
  const rates = {};
  const now = Date.now();
  if (previous) {
    const dt = (now - previous.at) / 1000;
    for (const p of st.pools) for (const m of p.mirrors) {
      const before = previous.counts[p.name + "/" + m.name];
      if (before !== undefined && dt > 0) rates[p.name + "/" + m.name] = Math.max(0, (m.redirects - before) / dt);
    }
  }
  const counts = {};
  const main = document.getElementById("pools");
  main.replaceChildren();
  for (const p of st.pools) {
    const total = p.mirrors.reduce((s, m) => s + m.effective_weight, 0);
    const heads = ["mirror", "state", "weight", "effective", "share", "bandwidth", "utilisation", "redirects", "per s", "last probe", "last poll"];
    if (p.files) heads.push("files held");
    const table = el("table", {}, el("tr", {}, ...heads.map(h => el("th", {}, h))));
    for (const m of p.mirrors) {
      const key = p.name + "/" + m.name;
      counts[key] = m.redirects;
      const state = !m.enabled ? "drained" : m.up ? "up" : "down";
      const share = total > 0 ? (100 * m.effective_weight / total).toFixed(1) + " %" : "–";
      const util = el("span", { class: "bar", title: (100 * m.utilization).toFixed(1) + " %" },
        el("i", { style: "width:" + Math.min(100, 100 * m.utilization).toFixed(1) + "%" }));
      const row = el("tr", { class: state, "data-mirror": m.name },
        el("td", {}, el("a", { href: m.url }, m.name), m.country ? " (" + m.country + ")" : ""),
        el("td", {}, el("span", { class: "badge " + (state === "up" ? "ok" : state === "down" ? "bad" : "warn") }, state)),
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
      }
      table.append(row);
    }
    main.append(el("section", { "data-pool": p.name },
      el("h2", {}, p.name + " ", el("small", {}, p.strategy + " · " + p.routes.join(" ") + " · " + p.usable + " usable" +
        (p.files ? " · " + p.files.origin_files + " origin files, scanned " + ago(p.files.last_scan) + (p.files.scan_error ? " · origin: " + p.files.scan_error : "") : ""))),
      table));
  }
  previous = { at: now, counts };
  document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
}

async function poll() {
  try {
    const res = await fetch("/api/status", { cache: "no-store" });
    if (!res.ok) throw new Error(res.status + " " + res.statusText);
    render(await res.json());
  } catch (e) {
    document.getElementById("updated").textContent = "error: " + e.message;
  }
}

document.getElementById("period").textContent = period / 1000;
poll();
setInterval(poll, period);
