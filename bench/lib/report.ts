/**
 * What a suite hands back, and how run.ts writes it: `bench/results/<suite>.json` with every run's raw
 * numbers, each figure's median/min/max and its ratio to its baseline; the summary table in
 * `bench/results/summary.md` and `bench/README.md`.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { median } from "./stats.js";
import { cpuName, type Machine } from "./machine.js";
import type { FailedRun } from "./suite.js";
import { resultsDir, root } from "./paths.js";

export interface Spread {
  median: number;
  min: number;
  max: number;
}

export function spread(values: number[]): Spread {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return { median: NaN, min: NaN, max: NaN };
  return { median: median(finite), min: Math.min(...finite), max: Math.max(...finite) };
}

export interface Series extends Spread {
  label: string;
  unit: string;
  runs: number[];
}

export function series(label: string, unit: string, runs: number[]): Series {
  return { label, unit, runs, ...spread(runs) };
}

export interface Figure {
  /** Stable id, e.g. "joins.one-shard". */
  id: string;
  /** The measured figure, one value per run. */
  value: Series;
  /** What it is compared with, one value per run (measured in the same run where it is measured). */
  baseline: Series;
  /** value / baseline per run; the median of these, not the ratio of medians. */
  ratio: Series;
  /** A target the ratio or the value should meet, as text (e.g. "< 0.01"), and whether the median does. */
  target?: { text: string; met: boolean };
  /** What a reader of the figure must know besides (e.g. a count-bounded load cut short by its time bound); shown beside its label. */
  note?: string;
}

/** A figure whose baseline is measured per run: ratio = value / baseline, run by run. */
export function figure(
  id: string,
  value: Series,
  baseline: Series,
  ratioLabel: string,
  target?: { text: string; met: (f: Figure) => boolean },
  note?: string,
): Figure {
  const ratios = value.runs.map((v, i) => v / baseline.runs[i]!);
  const f: Figure = { id, value, baseline, ratio: series(ratioLabel, "×", ratios), ...(note ? { note } : {}) };
  // A target is judged only on a measured figure: an unmeasured one is "not measured", never "met".
  if (target) f.target = { text: target.text, met: Number.isFinite(f.value.median) && target.met(f) };
  return f;
}

export interface SuiteResult {
  suite: string;
  title: string;
  /** The command that reproduces this suite's figures. */
  command: string;
  /** The commit measured (and whether src/ had uncommitted changes); absent in older results. */
  source?: string;
  /** How it was measured, in a few sentences (also shown in bench/README.md). */
  method: string;
  startedAt: string;
  finishedAt: string;
  /** Runs asked for; those that failed are in `failedRuns`, and every figure is over the others. */
  runs: number;
  /** Runs that threw, with their errors (absent in older results, which kept no failed run). */
  failedRuns?: FailedRun[];
  /** Set when the suite as a whole failed (every run, or its set-up): it then has no figures. */
  failure?: string;
  quick: boolean;
  settings: Record<string, unknown>;
  machine: Machine;
  /** The machine's 1, 5 and 15 minute load averages before and after the suite: other work on it shows here. */
  loadAverage: { before: number[]; after: number[] };
  figures: Figure[];
  /** Every run's raw measurements (load-generator counts, probes, byte lists). */
  raw: unknown[];
  notes: string[];
}

export function writeSuiteResult(result: SuiteResult): string {
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `${result.suite}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}

export function readSuiteResult(suite: string): SuiteResult | undefined {
  const file = join(resultsDir, `${suite}.json`);
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, "utf8")) as SuiteResult;
}

/** A number as a reader wants it: 3 significant digits, thousands separated. */
export function fmt(n: number, unit = ""): string {
  if (!Number.isFinite(n)) return "n/a";
  const abs = Math.abs(n);
  let text: string;
  if (abs === 0) text = "0";
  else if (Number.isInteger(n)) text = n.toLocaleString("en-US");
  else if (abs >= 100) text = Math.round(n).toLocaleString("en-US");
  else if (abs >= 1) text = n.toPrecision(3);
  else text = n.toPrecision(2);
  if (unit === "×") return `${text}×`;
  return unit ? `${text} ${unit}` : text;
}

function cell(s: Series, unmeasured = "not measured"): string {
  // A figure that could not be measured here (e.g. no strace) says so; it is never given a number.
  if (s.runs.length > 0 && s.runs.every((v) => !Number.isFinite(v))) return unmeasured;
  if (s.runs.length <= 1 || s.min === s.max) return fmt(s.median, s.unit);
  return `${fmt(s.median, s.unit)} (${fmt(s.min)}–${fmt(s.max)})`;
}

/** An error message as one short table cell: its first line, cut at 120 characters, no `|`. */
function brief(error: string): string {
  const line = error.split("\n")[0]!.trim();
  return (line.length > 120 ? `${line.slice(0, 119)}…` : line).replaceAll("|", "\\|");
}

/** "5", or "4 of 5 (run 3 failed: …)": the runs a suite's figures are over, and why any are missing. */
export function runsMeasured(r: SuiteResult): string {
  const failed = r.failedRuns ?? [];
  const quick = r.quick ? " (quick)" : "";
  if (failed.length === 0) return `${r.runs}${quick}`;
  return `${r.runs - failed.length} of ${r.runs}${quick} (${failed.map((f) => `run ${f.run + 1} failed: ${brief(f.error)}`).join("; ")})`;
}

/** The summary table: one row per figure, medians with min–max, baseline, ratio and the command; one row per failed suite. */
export function summaryTable(results: SuiteResult[]): string {
  const lines = [
    "| figure | median (min–max) | baseline | baseline median (min–max) | ratio median (min–max) | runs | reproduce |",
    "|---|---|---|---|---|---|---|",
  ];
  results.forEach((r) => {
    if (r.failure !== undefined) {
      lines.push(`| ${r.title}: **failed** | ${brief(r.failure)} | | | | none of ${r.runs}${r.quick ? " (quick)" : ""} | \`${r.command}\` |`);
      return;
    }
    for (const f of r.figures) {
      const ratio = `${cell(f.ratio, "n/a")}${f.target ? ` (target ${f.target.text}: ${f.target.met ? "met" : Number.isFinite(f.value.median) ? "not met" : "not measured"})` : ""}`;
      lines.push(`| ${f.value.label}${f.note ? ` (${f.note})` : ""} | ${cell(f.value)} | ${f.baseline.label} | ${cell(f.baseline)} | ${ratio} | ${runsMeasured(r)} | \`${r.command}\` |`);
    }
  });
  return lines.join("\n");
}

export function machineLine(m: Machine): string {
  return (
    `${m.cores} cores (${cpuName(m) ?? `${m.cpuModel}; family, model and stepping not recorded`}), ${m.memoryGiB} GiB, ${m.os}; Node ${m.node}; workerd ${m.workerd} (Miniflare ${m.miniflare}, ` +
    `wrangler ${m.wrangler}); PostgreSQL ${m.postgres}; autocannon ${m.autocannon}; Chromium ${m.chromium}`
  );
}

export const README_START = "<!-- bench:summary:start -->";
export const README_END = "<!-- bench:summary:end -->";

/**
 * Replaces a generated block of bench/README.md, between the markers `startMarker` and `endMarker` (by
 * default the suites' summary), with `block`; a README without both markers is left as it is.
 */
export function updateReadme(block: string, startMarker = README_START, endMarker = README_END): void {
  const file = join(root, "bench/README.md");
  if (!existsSync(file)) return;
  const text = readFileSync(file, "utf8");
  const start = text.indexOf(startMarker);
  const end = text.indexOf(endMarker);
  if (start < 0 || end < start) return;
  writeFileSync(file, `${text.slice(0, start + startMarker.length)}\n${block}\n${text.slice(end)}`);
}
