/**
 * Load from a separate process: bench/lib/load-child.ts runs autocannon in its own Node process, so the
 * load generator never shares an event loop with the bench or with what it measures. Every run is
 * bounded in time, a load with a request count too (it stops at the count or at the duration, whichever
 * comes first, and says which), with a hard kill behind that, and in connections.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { root } from "./paths.js";
import { removeDir, startChild, stopChild } from "./processes.js";

export interface LoadSpec {
  /** http://127.0.0.1:<port>/<path>; anything else is refused. */
  url: string;
  method: "GET" | "POST";
  headers?: Record<string, string>;
  body?: string;
  /** Values substituted for `{{v}}` in turn (tickets, passes); written to a file for the child. */
  valuesFile?: string;
  /**
   * Whole request bodies sent in turn, one per request (a different pre-minted id_token per join);
   * written to a file for the child. Overrides `body`.
   */
  bodiesFile?: string;
  /** Slot ids substituted for `{{slot}}` in turn: first, first+1, ..., first+count-1, first, ... */
  slots?: { first: number; count: number };
  /**
   * A path (with query) sent instead of the URL's, after the same substitutions as headers and bodies
   * (`/status?id={{v}}`, for a waiting room that takes its ticket in the query); the URL still gives host and port.
   */
  pathTemplate?: string;
  /** The first `{{n}}`; later requests count up from it. */
  firstIndex?: number;
  connections: number;
  /** The time bound: a load runs this long, or, with `amount`, until its count or this, whichever comes first. */
  durationSeconds: number;
  /** Stop after this many requests, even before the duration is up. */
  amount?: number;
  /** Per-request timeout. */
  timeoutSeconds: number;
}

export interface LoadResult {
  /** Seconds from the load's start to its stop, as they elapsed (also for a load cut short): every rate is per these. */
  durationSeconds: number;
  /** The count asked for, for a load bounded by one. */
  amount?: number;
  /**
   * What ended the load: "count" (a load with `amount` made its requests) or "time" (the duration; for a
   * load with `amount`, before it had its count: see `shortfall`). Absent in results written before it existed.
   */
  stoppedBy?: "count" | "time";
  /** Responses received (any status); connection errors and timeouts are not among them. */
  requests: number;
  ok: number;
  non2xx: number;
  statusCodes: Record<string, number>;
  errors: number;
  timeouts: number;
  latencyMs: { p50: number; p99: number; mean: number };
  connections: number;
  /**
   * The load generator's own CPU seconds (user + system, every thread) from the load's start to its end:
   * its share of a machine the load shares. Absent in results written before it existed.
   */
  cpuSeconds?: number;
  /** With `bodies`: how many were given, and how many requests had to take one a second time. */
  bodies?: { given: number; reused: number };
}

/** Responses refused by a rate limit (429): a benchmark must stay under every limit. */
export function rateLimited(r: LoadResult): number {
  return r.statusCodes["429"] ?? 0;
}

/**
 * For a load that stopped at its time bound before its count, what it got instead ("cut short by its
 * time bound: 63,512 of 100,000 requests answered in 200.4 s"); undefined for any other load.
 */
export function shortfall(r: LoadResult): string | undefined {
  if (r.amount === undefined || r.stoppedBy !== "time") return undefined;
  return `cut short by its time bound: ${r.requests.toLocaleString("en-US")} of ${r.amount.toLocaleString("en-US")} requests answered in ${r.durationSeconds.toFixed(1)} s`;
}

/** For a figure over runs of count-bounded loads: each run whose load was cut short, and what it got; undefined when none was. */
export function shortfallNote(loads: Array<{ run: number; load: LoadResult }>): string | undefined {
  const short = loads.flatMap(({ run, load }) => {
    const s = shortfall(load);
    return s ? [`run ${run + 1} ${s}`] : [];
  });
  return short.length ? short.join("; ") : undefined;
}

/** Successful (2xx) responses per second. */
export function okPerSecond(r: LoadResult): number {
  return r.durationSeconds > 0 ? r.ok / r.durationSeconds : 0;
}

export interface LoadInput extends Omit<LoadSpec, "valuesFile" | "bodiesFile"> {
  values?: string[];
  bodies?: string[];
}

/** Runs one bounded load in a child process and returns what it counted. */
export async function runLoad(input: LoadInput): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), "bench-load-"));
  try {
    const { values, bodies, ...rest } = input;
    const spec: LoadSpec = { ...rest };
    if (values) {
      spec.valuesFile = join(dir, "values.json");
      writeFileSync(spec.valuesFile, JSON.stringify(values));
    }
    if (bodies) {
      if (bodies.length === 0) throw new Error("bodies: at least one");
      spec.bodiesFile = join(dir, "bodies.json");
      writeFileSync(spec.bodiesFile, JSON.stringify(bodies));
    }
    const specFile = join(dir, "spec.json");
    writeFileSync(specFile, JSON.stringify(spec));
    const child = startChild(process.execPath, ["--import", "tsx", join(root, "bench/lib/load-child.ts"), specFile], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    // A hard bound behind the child's own (it stops itself at the duration, count or not): duration,
    // start-up and the last timeouts, then it is killed.
    const limitMs = (input.durationSeconds + input.timeoutSeconds + 30) * 1000;
    const timer = setTimeout(() => void stopChild(child), limitMs);
    const code = await exited;
    clearTimeout(timer);
    const line = stdout.trim().split("\n").pop() ?? "";
    if (code !== 0 || !line.startsWith("{")) {
      throw new Error(`load generator failed (exit ${code}): ${stderr.trim().slice(-2000) || stdout.slice(-500)}`);
    }
    return JSON.parse(line) as LoadResult;
  } finally {
    removeDir(dir);
  }
}
