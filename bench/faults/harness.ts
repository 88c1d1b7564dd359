/**
 * One scenario's life: a private state folder and database, the stack started as `npm start` starts it,
 * a crowd waiting and booking, the fault (the scenario's own part), then the crowd settles, every place
 * is checked with the shards and every booking and seat with the database. Counts that must be zero
 * and anything the scenario found wrong become failures; nothing here is a literal figure.
 */
import { probeHttp } from "../../scripts/http-probe.js";
import { removeDir } from "../lib/processes.js";
import { Crowd, type CrowdOptions } from "./crowd.js";
import { Tally } from "./http.js";
import type { PrivatePostgres } from "./postgres.js";
import { sleep, startStack, type Stack } from "./stack.js";
import { checkBookings, checkPlaces, truthFrom, truthFromPglite, type Truth } from "./verify.js";

export interface ScenarioContext {
  quick: boolean;
  seed: number;
  log(message: string): void;
  /** The run's private PostgreSQL server, started on first use. */
  postgres(): Promise<PrivatePostgres>;
}

export interface Counts {
  placesLost: number;
  placesUnverified: number;
  bookingsLost: number;
  duplicated: number;
  oversold: number;
  seatsMiscounted: number;
  project5xx: number;
  unavailable503: number;
  noAnswer: number;
  requests: number;
}

/** The counts that must be zero for a scenario to pass. */
export const MUST_BE_ZERO = ["placesLost", "placesUnverified", "bookingsLost", "duplicated", "oversold", "seatsMiscounted", "project5xx"] as const;

export interface ScenarioResult {
  name: string;
  title: string;
  /** The item of the list it answers: 1-8 for issue 11's, 24.n for issue 24's. */
  item: number;
  fault: string;
  passed: boolean;
  failures: string[];
  counts: Counts;
  crowd: ReturnType<Crowd["counts"]> & { ledgerBookings: number; liveBookingsInDatabase: number; passesRefused: number };
  /** What happened, in order, ms after the crowd started. */
  events: Array<{ atMs: number; what: string }>;
  /** What the stack printed about the fault (restarts, stops, errors), as it printed it. */
  console: string[];
  statusCounts: Record<string, number>;
  /** The scenario's own measurements, by name (what its fault is judged by, beyond the counts above). */
  figures: Record<string, unknown>;
  noAnswerCauses: Record<string, number>;
  samples5xx: string[];
  samples503: string[];
  examples: string[];
  notes: string[];
  settings: Record<string, unknown>;
  durationMs: number;
}

export interface Harness {
  ctx: ScenarioContext;
  stack: Stack;
  crowd: Crowd;
  tally: Tally;
  /** The suite's own requests to the stack (fault hooks): counted, but not as a citizen's. */
  hookTally: Tally;
  database: { kind: "pglite" } | { kind: "postgres"; server: PrivatePostgres; url: string };
  event(what: string): void;
  fail(why: string): void;
  note(what: string): void;
  /** Records a figure the scenario measured (bench/results/faults.json, under `figures`). */
  figure(name: string, value: unknown): void;
  /** Waits until `ready()` or `timeoutMs`; true if it held. */
  until(ready: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean>;
  /** Waits until the part answers again over HTTP; the ms it took, or undefined after `timeoutMs`. */
  serving(part: "origin" | "edge", timeoutMs: number): Promise<number | undefined>;
}

export interface ScenarioSpec {
  name: string;
  title: string;
  item: number;
  fault: string;
  database: "pglite" | "postgres";
  /** Bindings and origin variables, over the suite's defaults. */
  env?: Record<string, string>;
  crowd: CrowdOptions;
  /** Runs on the started stack before the crowd arrives (people already in the line ahead of it, say). */
  beforeCrowd?(stack: Stack, ctx: ScenarioContext): Promise<void>;
  run(h: Harness): Promise<void>;
}

/** Defaults for every scenario: passes issued quickly, so citizens book while the fault happens. */
const BASE_ENV: Record<string, string> = {
  ADMIT_PER_MINUTE: "600",
  MAX_ACTIVE: "400",
  SHARDS: "4",
  // Longer than any scenario, so no admission lapses unclaimed and any expired place is a lost one.
  CLAIM_WINDOW_SECONDS: "900",
};

/** Lines of the stack's console worth keeping with the results. */
const NOTABLE = /restart|serving again|unexpectedly|exited|died|killed|signal|stopping|crash|backoff|database unavailable|unexpected error/i;

export async function runScenario(ctx: ScenarioContext, spec: ScenarioSpec): Promise<ScenarioResult> {
  const started = Date.now();
  const failures: string[] = [];
  const notes: string[] = [];
  const events: ScenarioResult["events"] = [];
  const figures: ScenarioResult["figures"] = {};
  let crowdStarted = started;
  const event = (what: string) => {
    events.push({ atMs: Date.now() - crowdStarted, what });
    ctx.log(`  ${spec.name}: ${what}`);
  };

  let database: Harness["database"] = { kind: "pglite" };
  const env: Record<string, string> = { ...BASE_ENV, ...spec.env };
  if (spec.database === "postgres") {
    const server = await ctx.postgres();
    const url = await server.createDatabase(`faults_${spec.name.replace(/-/g, "_")}_${Date.now().toString(36)}`);
    database = { kind: "postgres", server, url };
    env.DATABASE_URL = url;
    env.NEON_WS_PROXY = server.bridge;
  }

  const startedStack = Date.now();
  const stack = await startStack({ env, keepState: true });
  notes.push(`the stack was ready ${((Date.now() - startedStack) / 1000).toFixed(1)} s after start`);
  const tally = new Tally();
  const hookTally = new Tally();
  const crowd = new Crowd({ edge: stack.edge, idp: stack.idp, mintSecret: stack.mintSecret }, tally, spec.crowd);
  const consoleFrom = stack.output().length;
  let truth: Truth | undefined;
  let places = { placesLost: 0, placesUnverified: 0, examples: [] as string[] };
  try {
    await spec.beforeCrowd?.(stack, ctx);
    await crowd.mint();
    crowdStarted = Date.now();
    crowd.start();
    const h: Harness = {
      ctx,
      stack,
      crowd,
      tally,
      hookTally,
      database,
      event,
      fail: (why) => {
        failures.push(why);
        ctx.log(`  ${spec.name}: FAIL ${why}`);
      },
      note: (what) => notes.push(what),
      figure: (name, value) => {
        figures[name] = value;
        ctx.log(`  ${spec.name}: ${name} = ${typeof value === "object" ? JSON.stringify(value) : String(value)}`);
      },
      async until(ready, timeoutMs) {
        const deadline = Date.now() + timeoutMs;
        while (Date.now() < deadline) {
          if (await ready()) return true;
          await sleep(200);
        }
        return ready();
      },
      async serving(part, timeoutMs) {
        const from = Date.now();
        const url = part === "origin" ? `${stack.origin}/api/slots` : `${stack.edge}/api/cohorts`;
        // A stack that has stopped altogether will not serve again: no point waiting out the bound.
        const ok = await h.until(async () => !stack.running() || (await probeHttp(url, (s) => s === 200 || s === 401)), timeoutMs);
        return ok && stack.running() ? Date.now() - from : undefined;
      },
    };
    await spec.run(h);
    // What the supervisor said it did: a restart the scenario did not cause (the origin dying because
    // its database went away, say) shows here even when nothing was lost.
    const restarts = stack.output().slice(consoleFrom).split("\n").filter((l) => / exited \((code|signal) [^)]*\); restarting in/.test(l));
    if (restarts.length) event(`the supervisor restarted a part ${restarts.length}x: ${[...new Set(restarts.map((l) => l.replace(/^.*?(\w+ exited \([^)]*\)).*$/, "$1")))].join(", ")}`);
    event("fault over; the crowd stops and settles");
    await crowd.stop();
    if (stack.running()) {
      const settled = await crowd.settle(ctx.quick ? 30_000 : 60_000);
      if (settled.unsettled) notes.push(`${settled.unsettled} citizens still had no join answer or no booking outcome after settling`);
      places = await checkPlaces(crowd, 90_000);
      // "Still serves": the edge answers a public read, and a booking request without a pass is refused
      // by the origin (not failed), each within 15 s on a busy machine.
      const edgeBack = await h.serving("edge", 15_000);
      const originBack = await h.serving("origin", 15_000);
      if (edgeBack === undefined) h.fail("the edge no longer serves after the fault (GET /api/cohorts)");
      if (originBack === undefined) h.fail("the origin no longer serves after the fault (GET /api/slots)");
    } else {
      h.fail(`the stack stopped (start.ts exited) during the fault; places could not be checked`);
      places = { placesLost: 0, placesUnverified: crowd.citizens.filter((c) => c.ticket !== undefined).length, examples: [] };
    }
  } catch (err) {
    failures.push(`the scenario could not run: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`);
    await crowd.stop();
  } finally {
    const stopping = Date.now();
    const stopped = await stack.stop();
    notes.push(`Ctrl-C stopped the stack in ${((Date.now() - stopping) / 1000).toFixed(1)} s`);
    if (stopped.forced) notes.push("the stack did not stop within 20 s of Ctrl-C and was killed");
    try {
      if (database.kind === "pglite") truth = await truthFromPglite(stack.pgliteDir);
      else {
        const { server, url } = database;
        truth = await truthFrom(<T extends Record<string, unknown>>(sql: string) => server.query<T>(url, sql));
      }
    } catch (err) {
      failures.push(`the database could not be read after the scenario: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`);
    }
    removeDir(stack.stateRoot);
  }

  const bookings = truth ? checkBookings(crowd, truth) : undefined;
  const counts: Counts = {
    placesLost: places.placesLost,
    placesUnverified: places.placesUnverified,
    bookingsLost: bookings?.bookingsLost ?? NaN,
    duplicated: bookings?.duplicated ?? NaN,
    oversold: bookings?.oversold ?? NaN,
    seatsMiscounted: bookings?.seatsMiscounted ?? NaN,
    project5xx: tally.project5xx,
    unavailable503: tally.unavailable503,
    noAnswer: tally.noAnswers,
    requests: tally.requests,
  };
  for (const key of MUST_BE_ZERO) {
    const value = counts[key];
    if (!Number.isFinite(value)) failures.push(`${key}: not measured`);
    else if (value !== 0) failures.push(`${key}: ${value}`);
  }
  const lines = stack.output().slice(consoleFrom).split("\n").filter((l) => NOTABLE.test(l)).map((l) => l.slice(0, 240));
  return {
    name: spec.name,
    title: spec.title,
    item: spec.item,
    fault: spec.fault,
    passed: failures.length === 0,
    failures,
    counts,
    crowd: {
      ...crowd.counts(),
      ledgerBookings: bookings?.ledgerBookings ?? 0,
      liveBookingsInDatabase: bookings?.liveBookings ?? 0,
      passesRefused: crowd.citizens.reduce((n, c) => n + c.passRefused, 0),
    },
    events,
    console: lines.length > 30 ? [...lines.slice(0, 15), `... ${lines.length - 30} more ...`, ...lines.slice(-15)] : lines,
    statusCounts: tally.byStatus,
    figures,
    noAnswerCauses: tally.noAnswer,
    samples5xx: tally.samples5xx,
    samples503: tally.samples503,
    examples: [...places.examples, ...(bookings?.examples ?? [])],
    notes,
    settings: { database: spec.database, env: Object.fromEntries(Object.entries(env).filter(([k]) => k !== "DATABASE_URL")), crowd: spec.crowd },
    durationMs: Date.now() - started,
  };
}
