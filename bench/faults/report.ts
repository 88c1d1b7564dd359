/**
 * bench/results/faults.json and the fault table in bench/README.md. A run of some scenarios replaces
 * those scenarios' entries and keeps the others' (each entry says when and how it ran), so the table is
 * always the latest measurement of every scenario.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { machine, notePostgresVersion, type Machine } from "../lib/machine.js";
import { resultsDir, root } from "../lib/paths.js";
import { fmt, updateReadme } from "../lib/report.js";
import { MUST_BE_ZERO, type ScenarioResult } from "./harness.js";

export interface ScenarioEntry extends ScenarioResult {
  ranAt: string;
  quick: boolean;
  seed: number;
  source: string;
  loadAverage: { before: number[]; after: number[] };
}

export interface FaultResults {
  suite: "faults";
  command: string;
  mustBeZero: readonly string[];
  machine: Machine;
  scenarios: ScenarioEntry[];
}

const FILE = join(resultsDir, "faults.json");
export const README_START = "<!-- faults:summary:start -->";
export const README_END = "<!-- faults:summary:end -->";
const ORDER = ["origin-kill", "postgres-restart", "pglite-kill", "edge-kill", "eviction", "slow-db", "clock", "fuzz", "ghosts", "one-pass-flood", "origin-port-flood", "origin-crash", "workerd-kill"];

function source(): string {
  try {
    const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: root, encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "src", "scripts", "bench/faults"], { cwd: root, encoding: "utf8" }).trim();
    return dirty ? `${commit} with uncommitted changes` : commit;
  } catch {
    return "unknown";
  }
}

function previous(): ScenarioEntry[] {
  if (!existsSync(FILE)) return [];
  try {
    const parsed = JSON.parse(readFileSync(FILE, "utf8")) as { scenarios?: ScenarioEntry[] };
    return Array.isArray(parsed.scenarios) ? parsed.scenarios : [];
  } catch {
    return [];
  }
}

export function writeFaultResults(run: {
  results: ScenarioResult[];
  quick: boolean;
  seed: number;
  startedAt: Date;
  loadBefore: number[];
  postgresVersion: string | undefined;
}): string {
  if (run.postgresVersion) notePostgresVersion(run.postgresVersion);
  const src = source();
  const after = loadavg();
  const fresh: ScenarioEntry[] = run.results.map((r) => ({
    ...r,
    ranAt: run.startedAt.toISOString(),
    quick: run.quick,
    seed: run.seed,
    source: src,
    loadAverage: { before: run.loadBefore, after },
  }));
  const names = new Set(fresh.map((r) => r.name));
  const scenarios = [...previous().filter((r) => !names.has(r.name)), ...fresh].sort((a, b) => ORDER.indexOf(a.name) - ORDER.indexOf(b.name));
  const results: FaultResults = { suite: "faults", command: "npm run faults", mustBeZero: MUST_BE_ZERO, machine: machine(), scenarios };
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(FILE, `${JSON.stringify(results, null, 2)}\n`);
  updateReadme(table(scenarios), README_START, README_END);
  return FILE;
}

function n(value: number): string {
  return Number.isFinite(value) ? fmt(value) : "not measured";
}

/** One row per scenario: the must-be-zero counts, the designed 503s, and what happened. */
export function table(scenarios: ScenarioEntry[]): string {
  const lines = [
    "| # | scenario | result | places lost | bookings lost | duplicated | oversold | project 5xx | designed 503 | no answer | requests | citizens joined / admitted / booked | what happened | ran |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const s of scenarios) {
    const c = s.counts;
    const happened = s.events.filter((e) => !/^fault over/.test(e.what)).map((e) => `${(e.atMs / 1000).toFixed(1)} s: ${e.what}`);
    const why = s.failures.length ? ` — ${s.failures.join("; ")}` : "";
    lines.push(
      `| ${s.item} | ${s.title} (\`${s.name}\`) | ${s.passed ? "pass" : `**fail**${why}`} | ${n(c.placesLost)}${c.placesUnverified ? ` (+${n(c.placesUnverified)} unverified)` : ""} | ${n(c.bookingsLost)} | ${n(c.duplicated)} | ` +
        `${n(c.oversold)}${c.seatsMiscounted ? ` (${n(c.seatsMiscounted)} seats miscounted)` : ""} | ${n(c.project5xx)} | ${n(c.unavailable503)} | ${n(c.noAnswer)} | ${n(c.requests)} | ` +
        `${s.crowd.joined} / ${s.crowd.admitted} / ${s.crowd.booked} of ${s.crowd.citizens} | ${happened.join("; ").replace(/\|/g, "/")} | ${s.ranAt.slice(0, 16).replace("T", " ")} UTC, ${s.source}${s.quick ? ", quick" : ""}, ${(s.durationMs / 1000).toFixed(0)} s |`,
    );
  }
  const m = machine();
  lines.push("");
  lines.push(
    `Measured on ${m.cores} cores (${m.cpuModel}), Node ${m.node}, PostgreSQL ${m.postgres}; load average (1 min) at each run's start: ` +
      [...new Map(scenarios.map((s) => [s.ranAt, s.loadAverage.before[0] ?? NaN])).values()].map((l) => l.toFixed(2)).join(", ") +
      ". Every figure is counted by the run; `bench/results/faults.json` holds each scenario's events, the stack's console lines about the fault, status counts and examples.",
  );
  return lines.join("\n");
}
