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
