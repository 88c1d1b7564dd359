/**
 * `npm run bench`: every benchmark, each writing bench/results/<name>.json, then the summary table in
 * bench/results/summary.md and in bench/README.md.
 *
 *   npm run bench                      all suites, 5 runs each
 *   npm run bench -- joins polls       some suites, by name
 *   npm run bench -- --runs 9          more runs
 *   npm run bench -- --quick           a short smoke run (1 run, short loads)
 *   npm run bench -- --report          only rewrite the summary from bench/results/*.json
 *
 * Suites: joins, polls, shards, passes, origin, page, memory. Load always comes from a separate process
 * (autocannon) to 127.0.0.1; the edge runs in workerd through Miniflare, with no Node proxy in between.
 */
import { writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { machine } from "./lib/machine.js";
import { removeBundles } from "./lib/miniflare.js";
import { resultsDir } from "./lib/paths.js";
import { cleanupAll } from "./lib/processes.js";
import { machineLine, readSuiteResult, summaryTable, updateReadme, writeSuiteResult, type SuiteResult } from "./lib/report.js";
import type { Suite, SuiteContext } from "./lib/suite.js";
import { joins } from "./suites/joins.js";
import { memory } from "./suites/memory.js";
import { origin } from "./suites/origin.js";
import { page } from "./suites/page.js";
import { passes } from "./suites/passes.js";
import { polls } from "./suites/polls.js";
import { shards } from "./suites/shards.js";

/** In the order of issue 6's list. */
const SUITES: Suite[] = [joins, polls, shards, passes, origin, page, memory];

function usage(message?: string): never {
  if (message) console.error(message);
  console.error(`usage: npm run bench -- [${SUITES.map((s) => s.name).join("|")} ...] [--runs N] [--quick] | --report`);
  process.exit(2);
}

function parseArgs(argv: string[]): { suites: Suite[]; runs: number; quick: boolean; reportOnly: boolean } {
  const names: string[] = [];
  let runs: number | undefined;
  let quick = false;
  let reportOnly = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--quick") quick = true;
    else if (arg === "--report") reportOnly = true;
    else if (arg === "--runs" || arg.startsWith("--runs=")) {
      const value = arg.includes("=") ? arg.slice("--runs=".length) : argv[++i];
      runs = Number(value);
      if (!Number.isInteger(runs) || runs < 1 || runs > 50) usage("--runs takes a whole number from 1 to 50");
    } else if (arg === "--help" || arg === "-h") usage();
    else if (arg.startsWith("-")) usage(`unknown option ${arg}`);
    else names.push(arg);
  }
  const suites = names.length === 0 ? SUITES : names.map((n) => SUITES.find((s) => s.name === n) ?? usage(`no suite named ${n}`));
  return { suites: reportOnly ? [] : suites, runs: runs ?? (quick ? 1 : 5), quick, reportOnly };
}

function commandFor(suite: Suite, runs: number, quick: boolean): string {
  return `npm run bench -- ${suite.name}${quick ? " --quick" : ""}${runs !== 5 && !(quick && runs === 1) ? ` --runs ${runs}` : ""}`;
}

async function main(): Promise<void> {
  const { suites, runs, quick } = parseArgs(process.argv.slice(2));
  const ctx: SuiteContext = {
    runs,
    quick,
    seconds: quick ? 2 : 5,
    warmupSeconds: 1,
    connections: 32,
    log: () => {},
  };
  const m = machine();
  if (suites.length) console.log(`bench: ${suites.map((s) => s.name).join(", ")}; ${runs} run(s)${quick ? ", quick" : ""}`);
  console.log(`machine: ${machineLine(m)}`);
  const started = Date.now();
  let failed = 0;
  for (const suite of suites) {
    const t0 = Date.now();
    const loadBefore = loadavg().map((v) => Math.round(v * 100) / 100);
    console.log(`\n== ${suite.name}: ${suite.title} (load average ${loadBefore.join(", ")})`);
    if (loadBefore[0]! > 0.5) console.log("  note: the machine is busy with other work; figures will be lower and noisier than on an idle machine");
    try {
      const out = await suite.run({ ...ctx, log: (msg) => console.log(`  ${suite.name}: ${msg}`) });
      const result: SuiteResult = {
        suite: suite.name,
        title: suite.title,
        command: commandFor(suite, runs, quick),
        startedAt: new Date(t0).toISOString(),
        finishedAt: new Date().toISOString(),
        runs,
        quick,
        machine: machine(),
        loadAverage: { before: loadBefore, after: loadavg().map((v) => Math.round(v * 100) / 100) },
        ...out,
      };
      const file = writeSuiteResult(result);
      console.log(`  wrote ${file} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
    } catch (err) {
      failed++;
      console.error(`  ${suite.name} failed:`, err);
    } finally {
      await cleanupAll();
    }
  }
  removeBundles();

  // The summary covers every suite that has results, this run's and earlier ones', in the issue's order.
  const all = SUITES.map((s) => readSuiteResult(s.name)).filter((r): r is SuiteResult => r !== undefined);
  const table = summaryTable(all);
  const when = all.map((r) => r.finishedAt).sort().at(-1) ?? new Date().toISOString();
  const measuredOn = all[0]?.machine ?? machine();
  const block = [
    `Measured ${when.slice(0, 16).replace("T", " ")} UTC on: ${machineLine(measuredOn)}.`,
    "",
    table,
    "",
    "Medians of the runs, (min–max) in brackets; each ratio is computed run by run (value / baseline of the same run), then its median is taken.",
    `Load average (1 min) when each suite started: ${all.map((r) => `${r.suite} ${r.loadAverage?.before[0] ?? "?"}`).join(", ")}; above ~0.5 means other work shared the 2 cores.`,
  ].join("\n");
  writeFileSync(join(resultsDir, "summary.md"), `# Benchmark summary\n\n${block}\n`);
  updateReadme(block);
  console.log(`\n${table}\n\nwrote ${join(resultsDir, "summary.md")} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  if (failed > 0) process.exitCode = 1;
}

let interrupted = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    console.error(`\n${signal}: cleaning up`);
    void cleanupAll().finally(() => {
      removeBundles();
      process.exit(130);
    });
  });
}

await main();
