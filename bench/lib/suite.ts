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
}

export interface SuiteOutput {
  method: string;
  settings: Record<string, unknown>;
  figures: Figure[];
  raw: unknown[];
  notes: string[];
}

export interface Suite {
  name: string;
  title: string;
  run(ctx: SuiteContext): Promise<SuiteOutput>;
}
