/**
 * `npm start`'s edge: the Worker bundled exactly as `wrangler deploy` bundles it, served by workerd through
 * Miniflare's API, on 127.0.0.1:EDGE_PORT (8787), with Durable Object state in EDGE_STATE_DIR
 * (.wrangler/state). scripts/start.ts runs it as a child of its own and restarts it if it dies; it can
 * also run alone (`npx tsx scripts/edge.ts`). The Worker is wrangler.toml's unless EDGE_WRANGLER_CONFIG
 * names another configuration: the fault suite names wrangler.test.toml, the test Worker with the hooks
 * its scenarios need (test/workers/edge-test.ts).
 *
 * Why not `wrangler dev`, as before: one request stopped it. `wrangler dev` (4.86) puts a proxy Worker in
 * a workerd of its own in front of the user Worker and treats any error that proxy reports as fatal; a
 * `POST /` declaring Content-Length 100 and sending 10 bytes makes the forwarded request fail with
 * "Network connection lost", the proxy reports it ("Error inside ProxyWorker") and wrangler exits with
 * code 1. No flag turns that off. Served here, with workerd listening on the port itself and no proxy,
 * the same request is answered (405) and so are truncated joins and bookings, half-sent and 200 KB
 * headers, garbage request lines, `Content-Length: -1`, chunked bodies cut short and 2,000 slowloris
 * connections, with the edge still answering after each. This is what the benchmarks already run
 * (bench/lib/miniflare.ts); wrangler is still what bundles the Worker and reads wrangler.toml.
 *
 * Everything `wrangler dev` gave `npm start` is kept: wrangler.toml's bindings as wrangler itself turns
 * them into Miniflare options (static assets from public/ with its _headers, [vars], .dev.vars secrets,
 * [[ratelimits]], the SQLite-backed QueueShard), overridden by EDGE_VARS (a JSON object of strings, the
 * bindings scripts/start.ts chose); no Request.cf fetch (offline); the Worker's console.warn/error and
 * workerd's own errors on stderr, its other logs dropped (`--log-level warn` before). State stays where
 * `wrangler dev --persist-to <dir>` kept it, `<dir>/v3/do/<worker name>-QueueShard`: the persistence root
 * is `<dir>/v3` and the Worker keeps wrangler.toml's name, so existing local queues are read as they are.
 * Not kept: reloading on source edits; a restart (or Ctrl-C and `npm start`) builds the current sources.
 *
 * workerd listens on a loopback port of its own; EDGE_PORT is served by a Node front (scripts/edge-front.ts)
 * in this process that plays the part of Cloudflare's front end: what workerd's own server would answer
 * with a bare 5xx before the Worker runs (a malformed Content-Length, an odd target or Host, an unknown
 * method) gets a 4xx in the error shape there, the client's address is set from the connection, and
 * everything else passes through as sent.
 *
 * If workerd dies on its own (killed, crashed), this process starts it again on the bundle it built, with
 * the supervisor's backoff (0.5 s doubling to 10 s), on the same loopback port; the front stays up and
 * answers 503 meanwhile. Only the death of this process restarts the edge as a whole (the supervisor
 * does that, rebuilding the Worker), and only then is the edge's port closed for a while.
 *
 * An operator's change (`npm run ops`, scripts/ops.ts) is an overrides file in the state folder
 * (scripts/operator-overrides.ts), watched here (fs.watch, and a look every second in case an event is
 * missed). A new version is laid over the same bindings as at the start (wrangler.toml, .dev.vars,
 * EDGE_VARS), checked with the Worker's own configuration parser and given to workerd, which Miniflare
 * does by restarting it: the front holds new requests meanwhile (they wait, none is refused), the
 * requests workerd is answering get up to FINISH_MS to end, and the held ones go on as soon as the new
 * workerd serves. Durable Object state is on disk, so every place is kept. A file that does not parse, or
 * names a cohort COHORTS does not list, is named in one line and changes nothing. After each start the
 * edge writes what it serves with to operators-in-force.json, which `npm run ops` reads.
 *
 * SIGTERM or SIGINT drains: the front stops accepting connections and closes idle ones, the requests in
 * flight are answered (workerd finishes them, then exits); past DRAIN_MS workerd is killed.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, watch } from "node:fs";
import { tmpdir } from "node:os";
import { basename, extname, join, resolve } from "node:path";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { unstable_getMiniflareWorkerOptions, unstable_readConfig } from "wrangler";
import { z } from "zod";
import { ConfigError, parseEdgeConfig } from "../src/edge/config.js";
import { startEdgeFront, type EdgeFront } from "./edge-front.js";
// wrangler's version, so the workerd and Miniflare are the ones wrangler (and the bench) run.
import { Log, LogLevel, Miniflare, type MiniflareOptions } from "./miniflare.js";
import {
  applyOverrides,
  IN_FORCE_FILE,
  inForce,
  OPERATOR_BINDINGS,
  OVERRIDES_FILE,
  OverridesError,
  overridesPath,
  readOverrides,
  revisionOf,
  writeInForce,
  type InForce,
} from "./operator-overrides.js";
import { RestartDelays } from "./supervisor.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const run = promisify(execFile);

/** How long requests in flight may take to finish after SIGTERM before workerd is killed. */
const DRAIN_MS = 5_000;

const environment = z.object({
  EDGE_PORT: z.coerce.number().int().min(1).max(65_535).default(8787),
  EDGE_STATE_DIR: z.string().min(1).default(".wrangler/state"),
  /** The Worker's wrangler configuration, relative to the project. */
  EDGE_WRANGLER_CONFIG: z.string().min(1).default("wrangler.toml"),
  EDGE_VARS: z
    .string()
    .default("{}")
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: "custom", message: "is not JSON" });
        return z.NEVER;
      }
    })
    .pipe(z.record(z.string(), z.string())),
});

/** A log line of workerd's (`structuredWorkerdLogs`): the Worker's console calls and the runtime's own. */
const workerdLog = z.object({ level: z.string(), message: z.string() });

/** Runtime noise Miniflare also hides: symbolizer hints and stacks of hex addresses. */
const NOISE = /Not symbolizing stack traces|took recursive isolate lock|CODE_MOVED for unknown code block/;
const HEX_STACK = /\nstack:( (\S+@)?([0-9a-f]{4,}|0))+\s*$/;

function say(line: string): void {
  console.error(`edge: ${line}`);
}

/** Prints what workerd writes: warnings and errors (the Worker's console.error among them), nothing chattier. */
function relayRuntimeOutput(stream: Readable, onEnd: () => void): void {
  let rest = "";
  stream.on("data", (chunk: Buffer | string) => {
    const lines = (rest + chunk.toString()).split("\n");
    rest = lines.pop() ?? "";
    for (const line of lines) {
      if (!line.trim() || NOISE.test(line)) continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        // Not a structured line: workerd's own output (a failed bind, a crash); always worth seeing.
        console.error(line);
        continue;
      }
      const log = workerdLog.safeParse(parsed);
      if (!log.success) console.error(line);
      else if (log.data.level === "error" || log.data.level === "warn") console.error(log.data.message.replace(HEX_STACK, ""));
    }
  });
  stream.once("close", onEnd);
}

/**
 * Sends workerd SIGTERM, on which it drains: it stops accepting, closes idle connections, answers what is
 * in flight and exits (SIGINT would stop it at once). It is sent once the front has passed on what it
 * took in (the supervisor signals this process alone, so workerd serves until then). Under the supervisor
 * this process leads a process group, workerd included, and the group is signalled; run alone, workerd is
 * found among this process's children (Linux lists them in /proc).
 */
function signalRuntime(): void {
  try {
    process.kill(-process.pid, "SIGTERM");
    return;
  } catch {
    // Not the leader of a process group.
  }
  try {
    const children = readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, "utf8").split(/\s+/).filter(Boolean);
    for (const pid of children) process.kill(Number(pid), "SIGTERM");
  } catch {
    // No /proc: workerd is stopped when the drain's bound is reached.
  }
}

/**
 * Makes `drain` the only SIGINT/SIGTERM handler. Importing wrangler's API installs its command line's
 * handlers and constructing Miniflare installs its own; both stop workerd and exit at once, which would
 * reset every request in flight.
 */
function takeSignals(drain: (signal: NodeJS.Signals) => unknown): void {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.removeAllListeners(signal);
    process.on(signal, () => void drain(signal));
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Secrets .dev.vars holds for other processes: wrangler reads the whole file, the edge must not hold these. */
const NOT_THE_EDGES = ["DEV_IDP_MINT_SECRET"];

function edgeBindings(bindings: Record<string, unknown> | undefined): Record<string, unknown> {
  return Object.fromEntries(Object.entries(bindings ?? {}).filter(([name]) => !NOT_THE_EDGES.includes(name)));
}

async function main(): Promise<void> {
  const env = environment.safeParse(process.env);
  if (!env.success) {
    say(`bad environment: ${env.error.issues.map((i) => `${i.path.join(".")} ${i.message}`).join("; ")}`);
    process.exit(2);
  }
  const { EDGE_PORT: port, EDGE_STATE_DIR: stateDir, EDGE_VARS: vars, EDGE_WRANGLER_CONFIG: configFile } = env.data;

  let stopping = false;
  let mf: Miniflare | undefined;
  let front: EdgeFront | undefined;
  /** Each workerd Miniflare starts gets the next number; only the current one's death means a restart. */
  let generation = 0;
  /** Resolves when the current workerd's output ends, that is when it has exited. */
  let runtimeExited: Promise<void> = Promise.resolve();
  let restartTimer: NodeJS.Timeout | undefined;
  const drain = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    if (restartTimer) clearTimeout(restartTimer);
    say(`${signal}, letting requests in flight finish (up to ${DRAIN_MS / 1000} s)`);
    const deadline = Date.now() + DRAIN_MS;
    if (front) {
      // No new connections; what is in flight goes on to workerd and back.
      front.close();
      while (front.inFlight() > 0 && Date.now() < deadline) await sleep(50);
    }
    signalRuntime();
    if (mf) {
      const drained = await Promise.race([runtimeExited.then(() => true), sleep(Math.max(0, deadline - Date.now()) + 1_000).then(() => false)]);
      if (!drained) say(`requests still in flight after ${DRAIN_MS / 1000} s; stopping anyway`);
      await mf.dispose().catch((err: unknown) => say(`stopping workerd failed: ${String(err)}`));
    }
    process.exit(0);
  };
  takeSignals(drain);

  // The bundle a deploy would upload (nodejs_compat polyfills included), in a folder of this process's own
  // (two stacks on one machine, as tests run them, never write over each other's), removed when it exits.
  const outdir = mkdtempSync(join(tmpdir(), "npm-start-edge-"));
  process.once("exit", () => rmSync(outdir, { recursive: true, force: true }));
  try {
    await run(join(root, "node_modules/.bin/wrangler"), ["deploy", "--dry-run", "-c", configFile, "--outdir", outdir], {
      cwd: root,
      timeout: 120_000,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", WRANGLER_HIDE_BANNER: "true", CLOUDFLARE_CF_FETCH_ENABLED: "false", NO_COLOR: "1" },
    });
  } catch (err) {
    if (stopping) return;
    const failure = err as { stdout?: string; stderr?: string; message: string };
    say(`building the Worker failed (wrangler deploy --dry-run):\n${failure.stderr || failure.stdout || failure.message}`);
    process.exit(1);
  }
  if (stopping) return;

  const config = unstable_readConfig({ config: resolve(root, configFile) });
  // The dry run names the bundle after the Worker's entry: src/edge/index.ts becomes index.js.
  const entry = `${basename(config.main ?? "index.ts", extname(config.main ?? "index.ts"))}.js`;
  // wrangler's own translation of wrangler.toml (and .dev.vars) into Miniflare options, as `wrangler dev` uses.
  const { workerOptions } = unstable_getMiniflareWorkerOptions(config);
  /** The bindings before any `npm run ops` override: wrangler.toml's (and .dev.vars), then EDGE_VARS. */
  const baseBindings: Record<string, unknown> = { ...edgeBindings(workerOptions.bindings), ...vars };
  const stateRoot = resolve(root, stateDir);
  mkdirSync(stateRoot, { recursive: true });
  const base = operatorBaseOf(baseBindings, vars);

  /**
   * The Worker's bindings with the overrides in the state folder laid over them, checked by the parser the
   * Worker itself runs, or an OverridesError / ConfigError saying why they cannot be used.
   */
  function bindingsNow(): { bindings: Record<string, unknown>; revision: string } {
    const { overrides, revision } = readOverrides(stateRoot);
    const operatorVars = Object.fromEntries(OPERATOR_BINDINGS.flatMap((name) => (typeof baseBindings[name] === "string" ? [[name, baseBindings[name]]] : [])));
    const bindings = { ...baseBindings, ...applyOverrides(operatorVars, overrides) };
    parseEdgeConfig(bindings);
    return { bindings, revision };
  }

  const optionsFor = (bindings: Record<string, unknown>): MiniflareOptions => ({
    // workerd on a loopback port of its own, behind the front (scripts/edge-front.ts) on EDGE_PORT. A
    // workerd restarted by setOptions gets the same port again.
    host: "127.0.0.1",
    port: 0,
    // wrangler dev --persist-to <dir> keeps every store under <dir>/v3; the same root reads the same files.
    defaultPersistRoot: join(stateRoot, "v3"),
    // Offline: no Request.cf fetched from the network (the Worker does not read it).
    cf: false,
    log: new Log(LogLevel.WARN),
    structuredWorkerdLogs: true,
    // Called for every workerd Miniflare spawns: its end is that workerd's death.
    handleRuntimeStdio(stdout: Readable, stderr: Readable) {
      const mine = generation;
      relayRuntimeOutput(stderr, () => {});
      runtimeExited = new Promise<void>((resolve) => relayRuntimeOutput(stdout, resolve));
      void runtimeExited.then(() => onRuntimeExit(mine));
    },
    workers: [
      {
        ...workerOptions,
        // The persisted objects live in a folder named after the Worker: wrangler.toml's name, as under wrangler dev.
        name: config.name ?? "waiting-room-edge",
        bindings,
        modules: true,
        scriptPath: join(outdir, entry),
        modulesRoot: outdir,
      },
    ],
  });

  // The first bindings: a bad overrides file is named and left aside, never a reason not to start.
  let wanted: { bindings: Record<string, unknown>; revision: string };
  /** The revision of an overrides file already refused, so it is named once, not at every look. */
  let refused: string | undefined;
  try {
    wanted = bindingsNow();
  } catch (err) {
    if (!(err instanceof OverridesError || err instanceof ConfigError)) throw err;
    say(`${err.message}; starting without the operators' overrides`);
    refused = currentRevision(stateRoot);
    wanted = { bindings: baseBindings, revision: "none" };
  }
  let options = optionsFor(wanted.bindings);
  /** The overrides' revision the serving workerd has; undefined while workerd is away. */
  let serving: string | undefined;

  /** Writes what the edge now serves with, for `npm run ops` (scripts/operator-overrides.ts). */
  function announce(revision: string): void {
    serving = revision;
    try {
      writeInForce(stateRoot, { pid: process.pid, port, revision, base, at: new Date().toISOString() });
    } catch (err) {
      say(`could not write ${IN_FORCE_FILE}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  // Restarts of workerd (after its death, or for new bindings) run one at a time, in order.
  let turns: Promise<void> = Promise.resolve();
  const inTurn = (work: () => Promise<void>) => {
    turns = turns.then(work).catch((err: unknown) => say(`${err instanceof Error ? err.message : String(err)}`));
  };

  // A workerd that dies outside a drain (killed, crashed) is started again by this process, with the
  // supervisor's backoff, on the bundle already built; the front stays and answers 503 meanwhile, so a
  // citizen never meets a refused connection. (Killing this process restarts the whole edge instead,
  // through the supervisor, and rebuilds the Worker.)
  const delays = new RestartDelays();
  let servingSince = 0;
  function onRuntimeExit(which: number): void {
    if (stopping || which !== generation || restartTimer) return;
    serving = undefined;
    front?.setRuntime(undefined);
    const delay = delays.after(servingSince ? Date.now() - servingSince : 0);
    servingSince = 0;
    say(`workerd exited unexpectedly; restarting it in ${(delay / 1000).toFixed(1)} s (the front answers 503 meanwhile)`);
    restartTimer = setTimeout(() => inTurn(restartRuntime), delay);
  }
  async function restartRuntime(): Promise<void> {
    restartTimer = undefined;
    if (stopping || !mf) return;
    generation += 1;
    const which = generation;
    const revision = wanted.revision;
    try {
      await mf.setOptions(options);
      const url = await mf.ready;
      if (stopping || which !== generation) return;
      front?.setRuntime(Number(url.port));
      servingSince = Date.now();
      announce(revision);
      say("workerd is serving again");
    } catch (err) {
      if (stopping) return;
      say(`workerd could not start again: ${err instanceof Error ? err.message : String(err)}`);
      // Its death, if it got as far as starting, was this generation's and schedules the next try;
      // otherwise schedule it here.
      if (which === generation && !restartTimer) onRuntimeExit(which);
    }
  }

  /**
   * An operator's change (`npm run ops`): workerd is given the new bindings, which restarts it. Meanwhile
   * the front holds new requests (they wait, unanswered), the requests workerd is answering get up to
   * FINISH_MS to end, and the held ones go to the new workerd as soon as it serves. Places are in the
   * Durable Objects' SQLite files, which the new workerd reads as the old one left them.
   */
  async function reload(): Promise<void> {
    if (stopping || !mf || !front) return;
    const revision = currentRevision(stateRoot);
    if (revision === wanted.revision || revision === refused) return;
    try {
      wanted = bindingsNow();
    } catch (err) {
      if (!(err instanceof OverridesError || err instanceof ConfigError)) throw err;
      refused = revision;
      say(`${err.message}; still serving the previous settings`);
      return;
    }
    refused = undefined;
    options = optionsFor(wanted.bindings);
    // workerd is away (its restart is pending): the restart starts it with these bindings.
    if (serving === undefined) return;
    const began = Date.now();
    front.hold();
    while (front.forwarding() > 0 && Date.now() - began < FINISH_MS) await sleep(5);
    const finished = Date.now();
    generation += 1;
    const which = generation;
    try {
      await mf.setOptions(options);
      const url = await mf.ready;
      // Released even when stopping: the drain answers what the front took in.
      front.release(Number(url.port));
      if (stopping || which !== generation) return;
      servingSince = Date.now();
      announce(wanted.revision);
      const what = wanted.revision === "none" ? "no overrides" : `${OVERRIDES_FILE} ${wanted.revision}`;
      say(`operators' settings applied (${what}): requests in flight took ${finished - began} ms to finish, workerd ${Date.now() - finished} ms to restart; requests held at most ${front.longestHoldMs()} ms`);
    } catch (err) {
      front.release(undefined);
      if (stopping) return;
      say(`workerd could not start with the new settings: ${err instanceof Error ? err.message : String(err)}`);
      if (which === generation && !restartTimer) onRuntimeExit(which);
    }
  }

  mf = new Miniflare(options);
  takeSignals(drain);
  let runtimeUrl: URL;
  try {
    runtimeUrl = await mf.ready;
  } catch (err) {
    if (stopping) return;
    say(`could not start: ${err instanceof Error ? err.message : String(err)}`);
    await mf.dispose().catch(() => {});
    process.exit(1);
  }
  servingSince = Date.now();
  front = startEdgeFront(port, () => {
    console.log(`edge: serving http://127.0.0.1:${port}/ (workerd through Miniflare, behind a Node front; Durable Object state in ${stateDir})`);
  });
  front.setRuntime(Number(runtimeUrl.port));
  front.server.once("error", (err: unknown) => {
    say(`could not serve port ${port}: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
  announce(wanted.revision);
  watchOverrides(stateRoot, () => inTurn(reload));
}

/** How long requests workerd is answering may take to finish before it is restarted with new bindings. */
const FINISH_MS = 1_000;
/** The backup look at the overrides file, for changes fs.watch misses (some file systems, editors' renames). */
const POLL_MS = 1_000;

/** The revision of the overrides file's text now (scripts/operator-overrides.ts). */
function currentRevision(stateRoot: string): string {
  try {
    return revisionOf(readFileSync(overridesPath(stateRoot), "utf8"));
  } catch {
    return revisionOf(undefined);
  }
}

/** Calls `changed` soon after the overrides file is written, renamed into place or removed. */
function watchOverrides(stateRoot: string, changed: () => void): void {
  let soon: NodeJS.Timeout | undefined;
  const later = () => {
    clearTimeout(soon);
    // A write and its rename arrive as several events: one look after they settle.
    soon = setTimeout(changed, 25);
  };
  try {
    watch(stateRoot, (_event, name) => {
      if (name === null || name === OVERRIDES_FILE) later();
    }).on("error", () => {});
  } catch {
    // No watching here: the poll below still sees every change.
  }
  setInterval(changed, POLL_MS).unref();
}

/**
 * The operator bindings before the overrides and where each came from: as scripts/start.ts names them
 * (EDGE_OPERATOR_BASE), or, for an edge run alone, wrangler.toml's unless EDGE_VARS set them.
 */
function operatorBaseOf(bindings: Record<string, unknown>, vars: Record<string, string>): InForce["base"] {
  const named = inForce.shape.base.safeParse((() => {
    try {
      return JSON.parse(process.env.EDGE_OPERATOR_BASE ?? "null");
    } catch {
      return null;
    }
  })());
  const base: InForce["base"] = {};
  for (const name of OPERATOR_BINDINGS) {
    const value = bindings[name];
    if (typeof value !== "string") continue;
    const source = named.success && named.data[name]?.value === value ? named.data[name].source : name in vars ? "environment" : "wrangler.toml";
    base[name] = { value, source };
  }
  return base;
}

await main();
