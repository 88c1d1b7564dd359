import { Hono } from "hono";

/**
 * The operators' view at /ops: each cohort's line draining, admissions against the configured rate and
 * the active count against the cap, refreshed every two seconds from GET /api/ops/queue. Served by the
 * Worker (not public/) because it is for operators, not cached for citizens.
 */
export const opsPage = new Hono<{ Bindings: Env }>();

const HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Waiting room: operations</title>
<style>
body{font:15px/1.4 system-ui,sans-serif;margin:1.5rem;color:#1f2328}
table{border-collapse:collapse;width:100%;max-width:60rem}
th,td{text-align:right;padding:.4rem .6rem;border-bottom:1px solid #d0d7de}
th:first-child,td:first-child{text-align:left}
.bar{height:.5rem;background:#eaeef2;border-radius:.25rem;overflow:hidden}
.bar>span{display:block;height:100%;background:#0969da}
#config{color:#57606a}
</style>
</head>
<body>
<h1>Waiting room: operations</h1>
<p id="config">Loading…</p>
<table>
<thead><tr><th>Cohort</th><th>Opens</th><th>Joined</th><th>Waiting</th><th>Admitted</th><th>Active / cap</th><th>Admitted / min</th></tr></thead>
<tbody id="cohorts"></tbody>
</table>
<p><small id="at"></small></p>
<script src="/ops/ops.js" defer></script>
</body>
</html>`;

const SCRIPT = `"use strict";
const fmt = (n) => n === null ? "–" : Math.round(n).toLocaleString("en");
function cell(text) { const td = document.createElement("td"); td.textContent = text; return td; }
async function refresh() {
  try {
    const res = await fetch("/api/ops/queue", { cache: "no-store" });
    const view = await res.json();
    const c = view.config;
    document.getElementById("config").textContent =
      "ADMIT_PER_MINUTE " + c.admitPerMinute + " · MAX_ACTIVE " + c.maxActive + " · SHARDS " + c.shards +
      " · claim window " + c.claimWindowSeconds + " s · pass " + c.passTtlSeconds + " s" + (c.paused ? " · PAUSED" : "");
    const body = document.getElementById("cohorts");
    body.replaceChildren(...view.cohorts.map((k) => {
      const tr = document.createElement("tr");
      tr.append(cell(k.label.en + " (" + k.id + ")"), cell(k.open ? "open" : new Date(k.opensAt).toLocaleString()),
        cell(fmt(k.joined)), cell(fmt(k.waiting)), cell(fmt(k.admitted)));
      const active = cell(fmt(k.active) + " / " + fmt(c.maxActive));
      const bar = document.createElement("div"); bar.className = "bar";
      const fill = document.createElement("span"); fill.style.width = Math.min(100, 100 * k.active / c.maxActive) + "%";
      bar.append(fill); active.append(bar);
      tr.append(active, cell(fmt(k.observedPerMinute)));
      return tr;
    }));
    document.getElementById("at").textContent = "as of " + new Date(view.at).toLocaleTimeString();
  } catch (e) {
    document.getElementById("at").textContent = "cannot reach the edge; retrying";
  }
}
refresh();
setInterval(refresh, 2000);
`;

opsPage.get("/ops", (c) => {
  c.header("cache-control", "no-store");
  c.header("content-security-policy", "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'");
  return c.html(HTML);
});

opsPage.get("/ops/ops.js", (c) => {
  c.header("cache-control", "no-store");
  c.header("content-type", "text/javascript; charset=utf-8");
  return c.body(SCRIPT);
});
