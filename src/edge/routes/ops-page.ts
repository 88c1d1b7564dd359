import { Hono } from "hono";

/**
 * The operators' console at /ops: per cohort, live charts of the line from the shards' per-minute
 * history, the bindings in force, the line's state, and the `npm run ops` commands that change them on the
 * running edge. The Worker serves the page itself, and the files it
 * loads from public/ops/ (uPlot, vendored from npm, and the console's own script and styles) pass through
 * the Worker too: wrangler.toml sends /ops and /ops/* to it first, and src/edge/app.ts lets only
 * operators reach these routes. Nothing here is cached by anyone: it is for operators, not for citizens.
 */
export const opsPage = new Hono<{ Bindings: Env }>();

const POLICY = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Waiting room: operators' console</title>
<link rel="stylesheet" href="/ops/uPlot.min.css">
<link rel="stylesheet" href="/ops/console.css">
</head>
<body>
<header>
  <h1>Waiting room: operators' console</h1>
  <p class="meta"><span id="at">Loading…</span>
    <label>Last <select id="span"><option value="30">30 minutes</option><option value="60">hour</option><option value="120">2 hours</option></select></label></p>
  <dl id="bindings" class="bindings"></dl>
  <div class="commands edge-commands">
    <p>Change the running edge from the checkout that runs <code>npm start</code>; a change applies within 2 s, without a restart (add <code>--deploy</code> for the deployed Worker). Each cohort below shows its own commands.</p>
    <span>Whole edge:</span>
    <code>npm run ops -- status</code>
    <code>npm run ops -- rate all &lt;per-minute&gt;</code>
    <code>npm run ops -- pause all</code>
    <code>npm run ops -- resume all</code>
    <code>npm run ops -- reset</code>
  </div>
  <p id="problem" class="problem" role="alert" hidden></p>
</header>
<main id="cohorts"></main>
<script src="/ops/locale.js" defer></script>
<script src="/ops/uPlot.iife.min.js" defer></script>
<script src="/ops/console.js" defer></script>
</body>
</html>`;

opsPage.get("/ops", (c) => {
  c.header("cache-control", "no-store");
  c.header("content-security-policy", POLICY);
  c.header("referrer-policy", "no-referrer");
  c.header("x-content-type-options", "nosniff");
  return c.html(HTML);
});

/** The console's files from public/ops/, for operators only (the gate ran before this), never cached. */
opsPage.get("/ops/*", async (c) => {
  const file = await c.env.ASSETS.fetch(c.req.raw);
  if (!file.ok) return c.notFound();
  const res = new Response(file.body, file);
  res.headers.set("cache-control", "no-store");
  res.headers.set("x-content-type-options", "nosniff");
  return res;
});
