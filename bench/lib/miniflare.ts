/**
 * The edge under workerd, measured directly: a Miniflare instance started in the bench process, whose
 * workerd listens on 127.0.0.1 and is hit by the load generator with no Node proxy in between (unlike
 * `wrangler dev`). Miniflare is wrangler's version (scripts/miniflare.ts), so the workerd is
 * the one `npm start` runs; the Worker is the bundle `wrangler deploy --dry-run` produces.
 * The identity provider the edge trusts is the bench's own (bench/lib/identity.ts: an inline JWKS), and
 * the rate limits are wrangler.toml's `[[ratelimits]]`, simulated by workerd as under `npm start`.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { parse as parseToml } from "smol-toml";
import { generateDevSecrets } from "../../scripts/dev-secrets.js";
import { Log, LogLevel, Miniflare, type PeriodType } from "../../scripts/miniflare.js";
import { identityBindings } from "./identity.js";
import { root } from "./paths.js";
import { onCleanup } from "./processes.js";

const run = promisify(execFile);

export type BundleName = "edge" | "edge-bench" | "pieces";

interface WranglerToml {
  compatibility_date: string;
  compatibility_flags?: string[];
  vars?: Record<string, unknown>;
  assets?: { directory: string; binding?: string; run_worker_first?: string[] };
  ratelimits?: Array<{ name: string; simple: { limit: number; period: number } }>;
  durable_objects?: { bindings?: Array<{ name: string; class_name: string }> };
}

/** wrangler.toml's `[[ratelimits]]` as Miniflare takes them: the limits are part of what a join or a poll costs. */
function rateLimits(toml: WranglerToml): Record<string, { simple: { limit: number; period: PeriodType } }> {
  return Object.fromEntries(
    (toml.ratelimits ?? []).map((r) => {
      if (r.simple.period !== 10 && r.simple.period !== 60) throw new Error(`wrangler.toml: ${r.name} period must be 10 or 60`);
      return [r.name, { simple: { limit: r.simple.limit, period: r.simple.period as PeriodType } }];
    }),
  );
}

/** A rate limit of wrangler.toml, for suites that size their load to stay under it. */
export function rateLimit(name: string): { limit: number; period: number } {
  const r = readWranglerToml().ratelimits?.find((x) => x.name === name);
  if (!r) throw new Error(`wrangler.toml has no [[ratelimits]] named ${name}`);
  return r.simple;
}

function readWranglerToml(config = "wrangler.toml"): WranglerToml {
  return parseToml(readFileSync(join(root, config), "utf8")) as unknown as WranglerToml;
}

const bundles = new Map<BundleName, Promise<string>>();
let buildDir: string | undefined;

/** Each bundle's wrangler configuration and the file its dry run writes. */
const BUNDLES: Record<BundleName, { config: string; entry: string }> = {
  edge: { config: "wrangler.toml", entry: "index.js" },
  "edge-bench": { config: "bench/workers/wrangler.bench.toml", entry: "edge-bench.js" },
  pieces: { config: "bench/workers/wrangler.pieces.toml", entry: "pieces.js" },
};

/**
 * A bundle's Durable Object bindings as its wrangler configuration declares them, binding name → class: for
 * the edge, its shards, its cohorts' coordinators and the operators' logins, as a deploy binds them.
 */
function objectBindings(name: BundleName): Record<string, string> {
  const bindings = readWranglerToml(BUNDLES[name].config).durable_objects?.bindings ?? [];
  return Object.fromEntries(bindings.map((b) => [b.name, b.class_name]));
}

/**
 * Bundles a Worker exactly as a deploy would (`wrangler deploy --dry-run`), once per bench process:
 * "edge" is src/edge/index.ts from wrangler.toml, "edge-bench" is bench/workers/edge-bench.ts, "pieces" is
 * bench/workers/pieces.ts (bench/dissect.ts).
 */
export function bundle(name: BundleName): Promise<string> {
  let pending = bundles.get(name);
  if (!pending) {
    buildDir ??= mkdtempSync(join(tmpdir(), "bench-bundles-"));
    const outdir = join(buildDir, name);
    const { config, entry } = BUNDLES[name];
    pending = run(join(root, "node_modules/.bin/wrangler"), ["deploy", "--dry-run", "-c", config, "--outdir", outdir], {
      cwd: root,
      timeout: 120_000,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", WRANGLER_HIDE_BANNER: "true", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
    }).then(() => join(outdir, entry));
    bundles.set(name, pending);
  }
  return pending;
}

/** Removes the bundles built by this process. */
export function removeBundles(): void {
  if (buildDir) rmSync(buildDir, { recursive: true, force: true });
  buildDir = undefined;
  bundles.clear();
}

export interface EdgeOptions {
  bundle: BundleName;
  /** Binding overrides on top of wrangler.toml's [vars], freshly generated secrets and the bench's identity provider. */
  vars?: Record<string, string>;
  /** Serve public/ as static assets, as wrangler.toml's [assets] says. */
  assets?: boolean;
  /** Also start the joins' baseline Worker (bench/workers/bare-counter.js) in the same workerd. */
  bareCounter?: boolean;
  /** Also start the polls' baseline Worker (bench/workers/plain-json.js) in the same workerd. */
  plainJson?: boolean;
  /** The bundle's Durable Object bindings, binding name → class (default: those its wrangler configuration declares). */
  objects?: Record<string, string>;
  /**
   * Also give the edge (and the baseline Worker) a socket of its own that reaches it straight, without
   * Miniflare's entry Worker: see `Edge.directUrl`.
   */
  direct?: boolean;
  /** Open workerd's V8 inspector on this port (0: none). */
  inspectorPort?: number;
  /**
   * Rate limits over wrangler.toml's, by binding name: for a test whose one client plays a crowd's
   * requests (test/browser/autopilot.test.ts), never for a measurement of what the limits cost.
   */
  rateLimits?: Record<string, { limit: number; period: PeriodType }>;
}

export interface Edge {
  /** The edge Worker, e.g. http://127.0.0.1:41234 */
  url: string;
  /** The joins' baseline Worker, when started. */
  bareUrl?: string;
  /**
   * With `direct`: the edge on a socket of its own. Miniflare's socket (`url`) runs every request through
   * its entry Worker first (the local stand-in for Cloudflare's front: headers, routes, error pages), a
   * second Worker invocation and a service-binding hop in the same workerd, which a deployed Worker never
   * pays. This one is workerd's HTTP server handing the request to the edge Worker itself.
   */
  directUrl?: string;
  /** With `direct` and `bareCounter`: the baseline Worker on a socket of its own, as `directUrl`. */
  bareDirectUrl?: string;
  /** The polls' baseline Worker, when started: GET `${plainUrl}/<bytes>` answers that many bytes of JSON. */
  plainUrl?: string;
  vars: Record<string, string>;
  inspectorPort?: number;
  dispose(): Promise<void>;
}

/**
 * Starts workerd with the edge Worker: bindings as wrangler.toml, fresh secrets, the bench's identity
 * provider, wrangler.toml's rate limits (fresh counters), the bundle's SQLite-backed Durable Objects
 * (its configuration's bindings) persisted in a temporary folder that `dispose` removes.
 */
export async function startEdge(options: EdgeOptions): Promise<Edge> {
  const toml = readWranglerToml();
  const secrets = await generateDevSecrets();
  const vars: Record<string, string> = {
    ...Object.fromEntries(Object.entries(toml.vars ?? {}).map(([k, v]) => [k, String(v)])),
    ...secrets,
    ...(await identityBindings()),
    ...options.vars,
  };
  const state = mkdtempSync(join(tmpdir(), "bench-edge-state-"));
  const scriptPath = await bundle(options.bundle);
  const common = {
    compatibilityDate: toml.compatibility_date,
    compatibilityFlags: toml.compatibility_flags ?? [],
    modules: true,
  };
  const assets = options.assets && toml.assets
    ? {
        directory: join(root, toml.assets.directory),
        binding: toml.assets.binding ?? "ASSETS",
        routerConfig: {
          has_user_worker: true,
          invoke_user_worker_ahead_of_assets: false,
          ...(toml.assets.run_worker_first ? { static_routing: { user_worker: toml.assets.run_worker_first } } : {}),
        },
      }
    : undefined;
  const workers = [
    {
      ...common,
      name: "edge",
      scriptPath,
      modulesRoot: dirname(scriptPath),
      bindings: vars,
      durableObjects: Object.fromEntries(
        Object.entries(options.objects ?? objectBindings(options.bundle)).map(([binding, className]) => [binding, { className, useSQLite: true }]),
      ),
      ratelimits: {
        ...rateLimits(toml),
        ...Object.fromEntries(Object.entries(options.rateLimits ?? {}).map(([name, simple]) => [name, { simple }])),
      },
      ...(assets ? { assets } : {}),
      ...(options.direct ? { unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }] } : {}),
    },
  ];
  const mf = new Miniflare({
    host: "127.0.0.1",
    port: 0,
    durableObjectsPersist: join(state, "do"),
    cachePersist: join(state, "cache"),
    log: new Log(LogLevel.WARN),
    // Offline: no Request.cf from the network (the Worker does not read it).
    cf: false,
    // No line logged per request: Miniflare's entry Worker would copy every answer (new Response(body,
    // answer), its headers included) to look for a log header, work no deployed Worker's answer gets.
    logRequests: false,
    ...(options.inspectorPort ? { inspectorPort: options.inspectorPort } : {}),
    // Baselines are Workers of their own beside the edge, reached by a path the edge does not serve.
    workers: [
      ...workers,
      ...(options.bareCounter
        ? [
            {
              ...common,
              name: "bare",
              scriptPath: join(root, "bench/workers/bare-counter.js"),
              routes: ["*/__bare*"],
              durableObjects: { BARE_COUNTER: { className: "BareCounter", useSQLite: true } },
              ...(options.direct ? { unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }] } : {}),
            },
          ]
        : []),
      ...(options.plainJson ? [{ ...common, name: "plain", scriptPath: join(root, "bench/workers/plain-json.js"), routes: ["*/__plain/*"] }] : []),
    ],
  });
  let url: URL;
  let directUrl: string | undefined;
  let bareDirectUrl: string | undefined;
  try {
    url = await mf.ready;
    if (options.direct) {
      directUrl = (await mf.unsafeGetDirectURL("edge")).origin;
      if (options.bareCounter) bareDirectUrl = `${(await mf.unsafeGetDirectURL("bare")).origin}/__bare`;
    }
  } catch (err) {
    await mf.dispose().catch(() => {});
    rmSync(state, { recursive: true, force: true });
    throw err;
  }
  const base = url.origin;
  const dispose = async () => {
    forget();
    try {
      await mf.dispose();
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  };
  const forget = onCleanup(dispose);
  return {
    url: base,
    ...(options.bareCounter ? { bareUrl: `${base}/__bare` } : {}),
    ...(directUrl ? { directUrl } : {}),
    ...(bareDirectUrl ? { bareDirectUrl } : {}),
    ...(options.plainJson ? { plainUrl: `${base}/__plain` } : {}),
    vars,
    ...(options.inspectorPort ? { inspectorPort: options.inspectorPort } : {}),
    dispose,
  };
}
