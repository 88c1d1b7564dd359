/**
 * `npx tsx bench/compare.ts <before-dir> [<middle-dir> …] <after-dir> [--title TEXT]`: a table of every
 * figure the result sets share (`<dir>/<suite>.json`, as `npm run bench` writes them), one column per set,
 * written between the `bench:compare` markers of bench/README.md and printed. Every number comes from the
 * files.
 *
 * Figures measured on different CPU models do not compare (the same code runs at different rates on
 * each), so it refuses, naming the models, when results of the sets, or of one set's suites, were
 * measured on two CPU models. Results written before the model was recorded (`machine.cpu`) have an
 * unknown model: they are compared with anything, and the table says their model is unknown.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join, relative } from "node:path";
import { root } from "./lib/paths.js";
import { cpuModels, cpuName } from "./lib/machine.js";
import { fmt, runsMeasured, type Figure, type Series, type SuiteResult } from "./lib/report.js";

const START = "<!-- bench:compare:start -->";
const END = "<!-- bench:compare:end -->";

function load(dir: string): Map<string, SuiteResult> {
  const out = new Map<string, SuiteResult>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".json")).sort()) {
    const r = JSON.parse(readFileSync(join(dir, file), "utf8")) as SuiteResult;
    if (r.suite && Array.isArray(r.figures)) out.set(r.suite, r);
  }
  return out;
}

function cell(s: Series | undefined): string {
  if (!s) return "";
  if (s.runs.length > 0 && s.runs.every((v) => !Number.isFinite(v))) return "not measured";
  return s.runs.length <= 1 || s.min === s.max ? fmt(s.median, s.unit) : `${fmt(s.median, s.unit)} (${fmt(s.min)}–${fmt(s.max)})`;
}

function target(f: Figure | undefined): string {
  if (!f?.target) return "?";
  return Number.isFinite(f.value.median) ? (f.target.met ? "met" : "not met") : "not measured";
}

const args = process.argv.slice(2);
const titleAt = args.indexOf("--title");
const title = titleAt >= 0 ? args.splice(titleAt, 2)[1]! : "Before and after";
const dirs = args;
if (dirs.length < 2 || dirs.some((d) => !existsSync(d))) {
  console.error("usage: npx tsx bench/compare.ts <before-dir> [<middle-dir> …] <after-dir> [--title TEXT]");
  process.exit(2);
}
const sets = dirs.map((d) => ({ name: basename(d), results: load(d) }));

/** The CPU a suite's results were measured on, as the table names it. */
const cpuOf = (r: SuiteResult) => cpuName(r.machine) ?? `CPU model unknown (not recorded then; Node named it ${JSON.stringify(r.machine.cpuModel)})`;
const measuredOn = cpuModels(sets.flatMap((s) => [...s.results.values()].map((r) => ({ label: `${s.name}/${r.suite}`, machine: r.machine }))));
if (measuredOn.size > 1) {
  console.error(
    `refusing to compare results measured on different CPU models:\n${[...measuredOn].map(([cpu, where]) => `  ${cpu}: ${where.join(", ")}`).join("\n")}\n` +
      "Compare results of one CPU model (re-measure the older set on this machine, back to back with the newer).",
  );
  process.exit(1);
}
const first = sets[0]!;
const last = sets.at(-1)!;
const lines = [
  `### ${title}`,
  "",
  `Written by \`npx tsx bench/compare.ts ${dirs.map((d) => relative(root, d)).join(" ")}\` from each folder's \`*.json\`.`,
  "",
  `| figure | ${sets.map((s) => s.name).join(" | ")} | ${last.name} / ${first.name} | ratio to baseline | target |`,
  `|---|${sets.map(() => "---|").join("")}---|---|---|`,
];
for (const [suite, a] of last.results) {
  for (const fa of a.figures) {
    const figs = sets.map((s) => s.results.get(suite)?.figures.find((f) => f.id === fa.id));
    const fb = figs[0];
    const change = fb && Number.isFinite(fa.value.median) && Number.isFinite(fb.value.median) && fb.value.median !== 0 ? fmt(fa.value.median / fb.value.median, "×") : "";
    const ratio = `${figs.map((f) => (f ? fmt(f.ratio.median, "×") : "?")).join(" → ")} (of ${fa.baseline.label})`;
    const targets = fa.target ? `${fa.target.text}: ${figs.map(target).join(" → ")}` : "";
    lines.push(`| ${fa.value.label} | ${figs.map((f) => cell(f?.value)).join(" | ")} | ${change} | ${ratio} | ${targets} |`);
  }
}
lines.push("");
for (const s of sets) {
  const results = [...s.results.values()];
  lines.push(
    `- ${s.name}, on ${[...new Set(results.map(cpuOf))].join(" and ")}: ${results
      .map((r) => `${r.suite} ${r.startedAt.slice(0, 16).replace("T", " ")} UTC, ${r.failure !== undefined ? `failed (${r.failure.split("\n")[0]})` : `${runsMeasured(r)} run(s)`}, load average (1 min) ${r.loadAverage.before[0]} at the start, ${r.loadAverage.after[0]} at the end${r.source ? `; source ${r.source}` : ""}`)
      .join("; ")}.`,
  );
}
// A load average counts the bench's own workerd and load generator (two busy processes on two cores), so
// it says only that, not that other work was running.
lines.push("- Medians of the runs, (min–max) in brackets. The load averages above count the bench's own workerd and load generator as well as any other work; single runs vary with the machine's load, CPU per join, fsyncs per join and non-2xx counts least.");
const block = lines.join("\n");
// The file first, then the console: a closed pipe (`| head`) must not lose the table.
const readme = join(root, "bench/README.md");
const text = readFileSync(readme, "utf8");
const s = text.indexOf(START);
const e = text.indexOf(END);
const wrote = s >= 0 && e > s;
if (wrote) writeFileSync(readme, `${text.slice(0, s + START.length)}\n${block}\n${text.slice(e)}`);
console.log(block);
console.log(wrote ? `\nwrote the table into ${relative(root, readme)}` : `\n(bench/README.md has no ${START} … ${END} markers; printed only)`);
