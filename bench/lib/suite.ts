import type { Figure } from "./report.js";

/** What run.ts tells every suite. */
export interface SuiteContext {
  /** Measured runs (default 5; 1 with --quick unless --runs says otherwise). */
  runs: number;
  quick: boolean;
  /** Length of one measured load, in seconds. */
  seconds: number;
  /** Length of the unmeasured load before it (JIT, connections, caches), in seconds. */
  warmupSeconds: number;
  /** Connections the load generator keeps open. */
  connections: number;
  log(message: string): void;
  /**
   * Measures runs 0 … runs-1 in turn, each with `measure`. A run that throws is logged and recorded as
   * failed (which run, its error) in the suite's results, and the next run goes on; what is returned are
   * the runs that succeeded, in order, so every figure is over them. Throws when every run failed.
   */
  eachRun<T>(measure: (run: number) => Promise<T>): Promise<T[]>;
  /** A second waiting room to measure side by side (`npm run bench -- peer --peer-url …`); absent without a URL. */
  peer?: PeerTarget;
}

/** Where a second waiting room listens and the shapes of its join and poll requests (bench/suites/peer.ts). */
export interface PeerTarget {
  /** http://127.0.0.1:<port>; loopback only, as every load here. */
  url: string;
  join: { method: "GET" | "POST"; path: string; body?: string; headers: Record<string, string> };
  /** Where a join's answer carries the ticket a poll needs: `json:<dot.path>`, `header:<name>` or `cookie:<name>`. */
  ticket: string;
  poll: { method: "GET" | "POST"; path: string; headers: Record<string, string> };
  /** Tickets to poll with; by default as many as our own poll load uses. */
  tickets?: number;
  /** The peer's processes (each with its descendants) whose CPU is counted beside workerd's; none: CPU not measured. */
  pids?: number[];
}

/** A run that threw: which (0-based, as `run` in a suite's raw results) and its error's message. */
export interface FailedRun {
  run: number;
  error: string;
}

/** The message of anything thrown, for a results file (never a stack: the run's log has that). */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** SuiteContext.eachRun: every run in turn, failures logged and pushed to `failed`, the successes returned. */
export async function eachRun<T>(runs: number, measure: (run: number) => Promise<T>, failed: FailedRun[], log: (message: string) => void): Promise<T[]> {
  const done: T[] = [];
  for (let run = 0; run < runs; run++) {
    try {
      done.push(await measure(run));
    } catch (err) {
      failed.push({ run, error: errorMessage(err) });
      log(`run ${run + 1} of ${runs} failed: ${err instanceof Error && err.stack ? err.stack : errorMessage(err)}`);
    }
  }
  if (done.length === 0) throw new Error(`all ${runs} run(s) failed; run ${failed[0]!.run + 1}: ${failed[0]!.error}`);
  return done;
}

export interface SuiteOutput {
  method: string;
  settings: Record<string, unknown>;
  figures: Figure[];
  raw: unknown[];
  notes: string[];
  /** Set when the suite had nothing to measure (say, no peer URL): nothing is written, the reason is printed. */
  skipped?: string;
}

export interface Suite {
  name: string;
  title: string;
  run(ctx: SuiteContext): Promise<SuiteOutput>;
}
