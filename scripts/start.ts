/**
 * `npm start`: the whole system on one machine, supervised. The edge runs in workerd through Miniflare's API
 * (scripts/edge.ts; local Durable Object state persisted in .wrangler/state), the origin on Node with an
 * embedded PGlite database (migrated and seeded on first start), and the development OpenID Provider on
 * Node (src/dev-idp, keys and its phone registry in .data/dev-idp), which the edge's IDP_* bindings point
 * at, and a local push service (web-push-testing, on PUSH_SERVICE_PORT, 8790) that takes the edge's Web
 * Push notices and decrypts them (docs/notifications.md). Local secrets (the VAPID key pair among them) are
 * generated on first run into .dev.vars, which git ignores. Every binding can be
 * overridden from the environment, e.g. `ADMIT_PER_MINUTE=60 npm start`; while it runs, `npm run ops` changes
 * the rate and the pause without a restart (scripts/ops.ts), and its overrides, kept in the edge's state
 * folder, apply at every later start too. The demo cohorts' openings are chosen at the first start and
 * kept in that folder (scripts/local-bindings.ts). The edge is wrangler.toml's
 * Worker; `EDGE_WRANGLER_CONFIG=wrangler.test.toml` runs the test Worker instead (scripts/edge.ts), as
 * the fault suite's shard scenarios do.
 *
 * A child that dies is restarted with backoff while the others keep serving (scripts/supervisor.ts); one
 * that cannot start the first time stops everything, named. Ctrl-C or SIGTERM drains: the edge stops
 * accepting and answers what is in flight, then the origin and the provider do the same; a second Ctrl-C
 * stops at once.
 */
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError, parseEdgeConfig } from "../src/edge/config.js";
import { LOGIN_CODE_TTL_SECONDS, mintLoginCode } from "../src/edge/operators/operator-tokens.js";
import { generateDevSecrets, generateMintSecret } from "./dev-secrets.js";
import { localOperatorDefaults, operatorBase, wranglerVars } from "./local-bindings.js";
import { cohortsInForce, describeCohort, edgeStateDir as resolveEdgeStateDir, OverridesError, readOverrides } from "./operator-overrides.js";
import { probeHttp } from "./http-probe.js";
import { Supervisor, type ChildSpec } from "./supervisor.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const devVarsPath = join(root, ".dev.vars");
/** The edge's secrets (IDP_CLIENT_SECRET is the provider's too). */
const SECRET_NAMES = ["PASS_SIGNING_KEYS", "CITIZEN_KEY_SECRET", "IDP_CLIENT_SECRET", "DRAW_SECRET", "OPERATOR_SECRET", "VAPID_PUBLIC_KEY", "VAPID_PRIVATE_KEY"] as const;
/** The development provider's own: the bearer secret of its POST /dev/id-tokens, which the edge never holds. */
const MINT_SECRET_NAME = "DEV_IDP_MINT_SECRET";
const ALL_SECRET_NAMES = [...SECRET_NAMES, MINT_SECRET_NAME] as const;

async function freshSecrets(): Promise<Record<(typeof ALL_SECRET_NAMES)[number], string>> {
  return { ...(await generateDevSecrets()), [MINT_SECRET_NAME]: generateMintSecret() };
}

const edgePort = Number(process.env.EDGE_PORT ?? 8787);
const originPort = Number(process.env.ORIGIN_PORT ?? 8788);
const idpPort = Number(process.env.IDP_PORT ?? 8789);
/** The local push service (web-push-testing): where the edge's Web Push notices go on this machine. */
const pushPort = Number(process.env.PUSH_SERVICE_PORT ?? 8790);
const pushServiceUrl = `http://localhost:${pushPort}`;
const edgeUrl = `http://127.0.0.1:${edgePort}`;
const idpUrl = `http://127.0.0.1:${idpPort}`;
/** Where the edge keeps local Durable Object state; a test run points this at a fresh folder. */
const edgeStateDir = process.env.EDGE_STATE_DIR ?? ".wrangler/state";
/** Where the development identity provider keeps its keys and phone registry (git-ignored). */
const idpStateDir = process.env.IDP_STATE_DIR ?? ".data/dev-idp";
/** The edge's client id at the provider when wrangler.toml names none. */
const DEFAULT_IDP_CLIENT_ID = "waiting-room-edge";

/** Local defaults that differ from wrangler.toml: the operator bindings (scripts/local-bindings.ts) and this machine's addresses. */
const LOCAL_DEFAULTS: Record<string, string> = {
  ...localOperatorDefaults(resolveEdgeStateDir()),
  ORIGIN_URL: `http://127.0.0.1:${originPort}`,
  // The development identity provider started below, wherever IDP_PORT puts it.
  IDP_ISSUER: idpUrl,
  IDP_JWKS_URL: `${idpUrl}/jwks`,
};

function readDevVars(): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const line of readFileSync(devVarsPath, "utf8").split("\n")) {
    const m = /^([A-Z_][A-Z0-9_]*)\s*=\s*'(.*)'\s*$/.exec(line) ?? /^([A-Z_][A-Z0-9_]*)\s*=\s*"?(.*?)"?\s*$/.exec(line);
    if (m && !line.trimStart().startsWith("#")) vars[m[1]!] = m[2]!;
  }
  return vars;
}

async function ensureDevSecrets(): Promise<Record<string, string>> {
  if (!existsSync(devVarsPath)) {
    const secrets = await freshSecrets();
    const text = [
      "# Local development secrets, generated by `npm start`. Never commit this file.",
      ...Object.entries(secrets).map(([k, v]) => `${k}='${v}'`),
      "",
    ].join("\n");
    writeFileSync(devVarsPath, text, { mode: 0o600 });
    chmodSync(devVarsPath, 0o600);
    console.log(
      "Generated local secrets (a pass-signing key, the citizen-key secret, the identity provider's client secret, the draw secret, the operator-login secret, the Web Push key pair, the development provider's mint secret) into .dev.vars",
    );
    return readDevVars();
  }
  // A .dev.vars from an older checkout lacks secrets added since (DEV_IDP_MINT_SECRET): add only those,
  // keeping the existing keys, so passes already issued and citizens' keys stay valid.
  const existing = readDevVars();
  const missing = ALL_SECRET_NAMES.filter((name) => existing[name] === undefined);
  // The Web Push keys are a pair: one without the other is replaced with a fresh pair.
  const vapid = ["VAPID_PUBLIC_KEY", "VAPID_PRIVATE_KEY"] as const;
  if (vapid.some((name) => missing.includes(name))) for (const name of vapid) if (!missing.includes(name)) missing.push(name);
  if (missing.length > 0) {
    const fresh: Record<string, string> = await freshSecrets();
    const current = readFileSync(devVarsPath, "utf8");
    const added = missing.map((name) => `${name}='${fresh[name]}'`).join("\n");
    writeFileSync(devVarsPath, `${current}${current.endsWith("\n") || current === "" ? "" : "\n"}${added}\n`, { mode: 0o600 });
    chmodSync(devVarsPath, 0o600);
    console.log(`Added ${missing.join(", ")} to .dev.vars`);
  }
  return readDevVars();
}

/** How long each tier of children may take to answer the requests in flight when stopping (edge, then the rest). */
const DRAIN_MS = 5_000;
/** A child's first answer may take this long: the edge bundles the Worker, the origin migrates and seeds. */
const START_TIMEOUT_MS = 90_000;

/** Whether nothing listens on 127.0.0.1:port: checked before starting, so a taken port is named at once. */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
  });
}

async function main(): Promise<void> {
  const secrets = await ensureDevSecrets();
  const defaults = { ...wranglerVars(), ...LOCAL_DEFAULTS };
  const bindings: Record<string, string> = {};
  for (const name of [...Object.keys(defaults), ...SECRET_NAMES]) {
    const value = process.env[name] ?? defaults[name] ?? secrets[name];
    if (value !== undefined) bindings[name] = value;
  }
  // The edge and the provider must agree on the client id; wrangler.toml normally names it.
  const idpClientId = (bindings.IDP_CLIENT_ID ??= DEFAULT_IDP_CLIENT_ID);
  // The same parser the Worker uses: a bad binding stops here, named, before anything starts.
  let config;
  try {
    config = parseEdgeConfig(bindings);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }

  const ports = { EDGE_PORT: edgePort, ORIGIN_PORT: originPort, IDP_PORT: idpPort, PUSH_SERVICE_PORT: pushPort };
  for (const [name, port] of Object.entries(ports)) {
    if (!Number.isInteger(port) || port < 1 || port > 65_535 || Object.values(ports).filter((p) => p === port).length > 1) {
      console.error(`${name}=${port} is not a port of its own (1-65535, different from the others)`);
      process.exit(2);
    }
    if (!(await portFree(port))) {
      console.error(`port ${port} (${name}) is already in use on 127.0.0.1: stop what listens there, or choose another with ${name}=…`);
      process.exit(1);
    }
  }

  const supervisor = new Supervisor();
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      console.error(`${signal} again: stopping at once`);
      supervisor.kill();
      process.exit(130);
    }
    console.log(`\n${signal}: answering the requests in flight (up to ${DRAIN_MS / 1000} s), then stopping; Ctrl-C again stops at once`);
    // The edge first, the origin and the provider after it: the edge's requests in flight (a booking being
    // forwarded, a sign-in being completed) still need them.
    void supervisor.stop([["edge"], ["origin", "identity provider", "push service"]], DRAIN_MS + 1_000).then(() => {
      console.log("Stopped: the edge, the origin, the identity provider and the push service have exited (state is kept for the next npm start).");
      process.exit(0);
    });
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  console.log(`[start] supervisor pid ${process.pid}`);

  // One Node process per child (tsx as a loader rather than its command line's wrapper process), so the
  // pid printed is the process that serves.
  const tsNode = (script: string): Pick<ChildSpec, "command" | "args" | "cwd"> => ({ command: process.execPath, args: ["--import", "tsx", script], cwd: root });
  const origin: ChildSpec = {
    name: "origin",
    label: "origin",
    ...tsNode("src/origin/node.ts"),
    env: {
      ...process.env,
      PORT: String(originPort),
      PASS_JWKS_URL: `${edgeUrl}/.well-known/jwks.json`,
      PASS_ISSUER: config.issuer,
      // The origin refuses a pass that claims a longer life than the edge gives passes.
      PASS_TTL_SECONDS: String(config.passTtlSeconds),
      PASS_AUDIENCE: config.audience,
    },
    answers: () => probeHttp(`http://127.0.0.1:${originPort}/api/slots`, (s) => s === 401 || s === 200),
    startTimeoutMs: START_TIMEOUT_MS,
  };
  const idp: ChildSpec = {
    name: "identity provider",
    label: "idp",
    ...tsNode("src/dev-idp/server.ts"),
    env: {
      ...process.env,
      IDP_PORT: String(idpPort),
      IDP_STATE_DIR: idpStateDir,
      IDP_CLIENT_ID: idpClientId,
      // Always set (from .dev.vars or the environment); empty would make the provider stop, naming it.
      IDP_CLIENT_SECRET: bindings.IDP_CLIENT_SECRET ?? "",
      // What scripts (tests, the bench, simulate --live) present to mint id_tokens; the same rule: empty stops it.
      DEV_IDP_MINT_SECRET: process.env[MINT_SECRET_NAME] ?? secrets[MINT_SECRET_NAME] ?? "",
      // Both spellings of the local edge: a browser may have opened either.
      IDP_REDIRECT_URIS: [`http://127.0.0.1:${edgePort}/auth/callback`, `http://localhost:${edgePort}/auth/callback`].join(","),
    },
    answers: () => probeHttp(`${idpUrl}/.well-known/openid-configuration`, (s) => s === 200),
    startTimeoutMs: START_TIMEOUT_MS,
  };
  // A push service as browsers' are, on this machine: it hands out subscriptions (POST /subscribe), checks
  // each push's VAPID signature, decrypts it, and shows what arrived (POST /get-notifications). It keeps
  // its subscriptions in memory: after a restart it refuses pushes to the old ones (400), which the edge's
  // consumer logs and drops.
  const pushService: ChildSpec = {
    name: "push service",
    label: "push",
    command: process.execPath,
    args: [createRequire(import.meta.url).resolve("web-push-testing/src/bin/server.js"), String(pushPort)],
    cwd: root,
    env: { ...process.env },
    answers: () =>
      fetch(`${pushServiceUrl}/status`, { method: "POST", signal: AbortSignal.timeout(2_000) }).then(
        (r) => r.status === 200,
        () => false,
      ),
    startTimeoutMs: START_TIMEOUT_MS,
  };
  // Secrets reach the edge from .dev.vars, as wrangler reads it, unless the environment overrides them.
  const edgeVars = Object.fromEntries(Object.entries(bindings).filter(([k]) => !(SECRET_NAMES as readonly string[]).includes(k) || process.env[k] !== undefined));
  const edge: ChildSpec = {
    name: "edge",
    label: "edge",
    ...tsNode("scripts/edge.ts"),
    env: {
      ...process.env,
      EDGE_PORT: String(edgePort),
      EDGE_STATE_DIR: edgeStateDir,
      EDGE_VARS: JSON.stringify(edgeVars),
      // Where each operator binding came from, for `npm run ops -- status` (the edge writes it with what it serves).
      EDGE_OPERATOR_BASE: JSON.stringify(operatorBase(wranglerVars(), LOCAL_DEFAULTS, process.env)),
      // wrangler's API announces that it read .dev.vars; the edge is quiet unless something is wrong.
      WRANGLER_LOG: process.env.WRANGLER_LOG ?? "warn",
    },
    answers: () => probeHttp(`${edgeUrl}/api/cohorts`, (s) => s === 200),
    startTimeoutMs: START_TIMEOUT_MS,
  };

  try {
    // The identity provider before the edge: the edge fetches its discovery document and keys on the first
    // sign-in, and a citizen may click "sign in" as soon as the banner appears.
    await Promise.all([supervisor.start(origin), supervisor.start(pushService), supervisor.start(idp).then(() => supervisor.start(edge))]);
  } catch (err) {
    if (supervisor.stopping) return;
    // A first start that fails is a configuration or a machine problem (a port taken since the check, a
    // bad binding, a Worker that does not build): restarting would only repeat it.
    console.error(`${err instanceof Error ? err.message : String(err)}; stopping the rest (see the lines above for why)`);
    await supervisor.stop([["edge"], ["origin", "identity provider", "push service"]], DRAIN_MS + 1_000);
    process.exit(1);
  }
  console.log("");
  console.log(`  Waiting room ready: open ${edgeUrl}/`);
  for (const line of cohortLines(bindings)) console.log(`  ${line}`);
  console.log(`  At most ${config.maxActive} admitted at once per cohort, ${config.shards} shards. Change the rate or pause without a restart: npm run ops -- status`);
  if (config.operators.access) console.log(`  Operators' console: ${edgeUrl}/ops, through Cloudflare Access (${config.operators.access.issuer})`);
  else if (config.operators.localSecret) {
    // A fresh one-time link at every start: the edge spends its code on first use, and it lapses unused.
    const code = await mintLoginCode(config.operators.localSecret);
    console.log(`  Operators' console (a one-time link, for ${LOGIN_CODE_TTL_SECONDS / 60} min): ${edgeUrl}/ops/login?code=${code}`);
  } else console.log("  Operators' console: closed (no OPERATOR_SECRET or Cloudflare Access configured)");
  console.log(`  Origin (booking API, behind the edge): http://127.0.0.1:${originPort}`);
  console.log(`  Identity provider (development): ${idpUrl} — sign-in codes appear here as [idp] SMS lines`);
  console.log(
    config.push
      ? `  Push service (local, web-push-testing): ${pushServiceUrl} — POST /subscribe for a subscription, POST /get-notifications to read what arrived, decrypted`
      : `  Push service (local): ${pushServiceUrl}, unused: no VAPID keys, so the edge offers no notifications`,
  );
  if (bindings.IDP_ISSUER !== idpUrl) console.log(`  (the edge trusts ${bindings.IDP_ISSUER}, set in the environment, not this provider)`);
  console.log("  A process that dies is restarted. Ctrl-C answers the requests in flight, then stops them all.");
  console.log("");
}

/**
 * The banner's lines per cohort: what is in force once `npm run ops` overrides (kept in the state folder)
 * are laid over the bindings, as the edge applies them.
 */
function cohortLines(bindings: Record<string, string>): string[] {
  let overrides;
  try {
    overrides = readOverrides(resolveEdgeStateDir()).overrides;
  } catch (err) {
    if (!(err instanceof OverridesError)) throw err;
    overrides = { cohorts: {} };
  }
  const base = operatorBase(bindings, {}, {});
  const now = Date.now();
  return cohortsInForce(base, overrides).map((c) => {
    const from = [c.rateSource, c.pausedSource].includes("ops override") ? " (npm run ops override)" : "";
    return `Cohort ${c.cohort.id} (${c.cohort.label.en}): ${describeCohort(c, now)}${from}`;
  });
}

await main();
