/**
 * `npx tsx bench/compare.ts <before-dir> <after-dir> [--title TEXT]`: a before/after table of every figure
 * two sets of results share (`<dir>/<suite>.json`, as `npm run bench` writes them), written between the
 * `bench:compare` markers of bench/README.md and printed. Every number comes from the two sets of files.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join, relative } from "node:path";
import { root } from "./lib/paths.js";
import { fmt, type Figure, type Series, type SuiteResult } from "./lib/report.js";

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
  if (!f?.target) return "";
  return Number.isFinite(f.value.median) ? (f.target.met ? "met" : "not met") : "not measured";
}

function loadLine(label: string, results: Map<string, SuiteResult>): string {
  return `${label}: ${[...results.values()]
    .map((r) => `${r.suite} ${r.startedAt.slice(0, 16).replace("T", " ")} UTC, load average ${r.loadAverage.before[0]} → ${r.loadAverage.after[0]}, ${r.runs} run(s)${r.source ? `, source ${r.source}` : ""}`)
    .join("; ")}`;
}

const args = process.argv.slice(2);
const titleAt = args.indexOf("--title");
const title = titleAt >= 0 ? args.splice(titleAt, 2)[1]! : "Before and after";
const [beforeDir, afterDir] = args;
if (!beforeDir || !afterDir || !existsSync(beforeDir) || !existsSync(afterDir)) {
  console.error("usage: npx tsx bench/compare.ts <before-dir> <after-dir> [--title TEXT]");
  process.exit(2);
}
const before = load(beforeDir);
const after = load(afterDir);
const lines = [
  `### ${title}`,
  "",
  `From \`${relative(root, beforeDir) || basename(beforeDir)}/*.json\` and \`${relative(root, afterDir) || basename(afterDir)}/*.json\`, written by \`npx tsx bench/compare.ts ${relative(root, beforeDir)} ${relative(root, afterDir)}\`.`,
  "",
  "| figure | before | after | after / before | ratio to baseline, before → after | target: before → after |",
  "|---|---|---|---|---|---|",
];
for (const [suite, a] of after) {
  const b = before.get(suite);
  for (const fa of a.figures) {
    const fb = b?.figures.find((f) => f.id === fa.id);
    const change = fb && Number.isFinite(fa.value.median) && Number.isFinite(fb.value.median) && fb.value.median !== 0 ? fmt(fa.value.median / fb.value.median, "×") : "";
    const ratio = `${fb ? fmt(fb.ratio.median, "×") : ""} → ${fmt(fa.ratio.median, "×")} (${fa.baseline.label})`;
    const targets = fa.target ? `${fa.target.text}: ${fb ? target(fb) : "?"} → ${target(fa)}` : "";
    lines.push(`| ${fa.value.label} | ${cell(fb?.value)} | ${cell(fa.value)} | ${change} | ${ratio} | ${targets} |`);
  }
}
lines.push("", `- ${loadLine("before", before)}.`, `- ${loadLine("after", after)}.`, "- Medians of the runs, (min–max) in brackets; the machine's 2 cores were shared with other work (load average above), so single runs vary widely.");
const block = lines.join("\n");
console.log(block);
const readme = join(root, "bench/README.md");
const text = readFileSync(readme, "utf8");
const s = text.indexOf(START);
const e = text.indexOf(END);
if (s >= 0 && e > s) {
  writeFileSync(readme, `${text.slice(0, s + START.length)}\n${block}\n${text.slice(e)}`);
  console.log(`\nwrote the table into ${relative(root, readme)}`);
} else console.log(`\n(bench/README.md has no ${START} … ${END} markers; printed only)`);
