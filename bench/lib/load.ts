/**
 * Load from a separate process: bench/lib/load-child.ts runs autocannon in its own Node process, so the
 * load generator never shares an event loop with the bench or with what it measures. Every run is
 * bounded in time (duration plus a hard kill), in connections and, when given, in request count.
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
  durationSeconds: number;
  /** Stop after this many requests, even before the duration is up. */
  amount?: number;
  /** Per-request timeout. */
  timeoutSeconds: number;
}

export interface LoadResult {
  durationSeconds: number;
  requests: number;
  ok: number;
  non2xx: number;
  statusCodes: Record<string, number>;
  errors: number;
  timeouts: number;
  latencyMs: { p50: number; p99: number; mean: number };
  connections: number;
  /** With `bodies`: how many were given, and how many requests had to take one a second time. */
  bodies?: { given: number; reused: number };
}

/** Responses refused by a rate limit (429): a benchmark must stay under every limit. */
export function rateLimited(r: LoadResult): number {
  return r.statusCodes["429"] ?? 0;
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
    // A hard bound on top of autocannon's own: duration, start-up and the last timeouts, then it is killed.
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
