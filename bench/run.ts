/**
 * `npm run bench`: every benchmark, each writing bench/results/<name>.json, then the summary table in
 * bench/results/summary.md and in bench/README.md.
 *
 *   npm run bench                      all suites, 5 runs each
 *   npm run bench -- joins polls       some suites, by name
 *   npm run bench -- --runs 9          more runs
 *   npm run bench -- --quick           a short smoke run (1 run, short loads)
 *   npm run bench -- --report          only rewrite the summary from bench/results/*.json
 *   npm run bench -- peer --peer-url http://127.0.0.1:PORT [--peer-join "POST /path"] [--peer-join-body T]
 *        [--peer-join-header "k: v"]... [--peer-ticket json:path|header:name|cookie:name]
 *        [--peer-poll "GET /path?t={{v}}"] [--peer-poll-header "k: v"]... [--peer-tickets N] [--peer-pid PID]...
 *                                      our joins and polls beside a second waiting room's, same run
 *
 * Suites: joins, polls, shards, passes, origin, page, memory, peer (measures only with --peer-url). Load always comes from a separate process
 * (autocannon) to 127.0.0.1; the edge runs in workerd through Miniflare, with no Node proxy in between.
 */
import { execFileSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { mintingStats } from "./lib/identity.js";
import { machine } from "./lib/machine.js";
import { removeBundles } from "./lib/miniflare.js";
import { resultsDir, root } from "./lib/paths.js";
import { cleanupAll } from "./lib/processes.js";
import { machineLine, readSuiteResult, summaryTable, updateReadme, writeSuiteResult, type SuiteResult } from "./lib/report.js";
import { eachRun, errorMessage, type FailedRun, type PeerTarget, type Suite, type SuiteContext } from "./lib/suite.js";
import { joins } from "./suites/joins.js";
import { memory } from "./suites/memory.js";
import { origin } from "./suites/origin.js";
import { page } from "./suites/page.js";
import { passes } from "./suites/passes.js";
import { peer } from "./suites/peer.js";
import { polls } from "./suites/polls.js";
import { shards } from "./suites/shards.js";

/** In the order of issue 6's list; then issue 10's side-by-side, which needs a URL to do anything. */
const SUITES: Suite[] = [joins, polls, shards, passes, origin, page, memory, peer];

function usage(message?: string): never {
  if (message) console.error(message);
  console.error(`usage: npm run bench -- [${SUITES.map((s) => s.name).join("|")} ...] [--runs N] [--quick] [--peer-url URL ...] | --report`);
  process.exit(2);
}

/** "POST /api/join" -> method and path. */
function methodAndPath(flag: string, text: string): { method: "GET" | "POST"; path: string } {
  const m = /^(GET|POST)\s+(\/\S*)$/.exec(text.trim());
  if (!m) usage(`${flag} takes "GET /path" or "POST /path", not ${JSON.stringify(text)}`);
  return { method: m[1] as "GET" | "POST", path: m[2]! };
}

function header(flag: string, text: string): [string, string] {
  const at = text.indexOf(":");
  if (at <= 0) usage(`${flag} takes "name: value", not ${JSON.stringify(text)}`);
  return [text.slice(0, at).trim().toLowerCase(), text.slice(at + 1).trim()];
}

interface PeerArgs {
  url?: string;
  join?: string;
  joinBody?: string;
  joinHeaders: Array<[string, string]>;
  ticket?: string;
  poll?: string;
  pollHeaders: Array<[string, string]>;
  tickets?: number;
  pids: number[];
}

/** The peer's request shapes; the defaults are our own routes' shapes with a plain numbered id for a POST's body. */
function peerTarget(a: PeerArgs): PeerTarget | undefined {
  if (a.url === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(a.url);
  } catch {
    usage(`--peer-url is not a URL: ${a.url}`);
  }
  // Every load here goes to loopback only (bench/lib/load-child.ts refuses anything else).
  if (url.protocol !== "http:" || url.hostname !== "127.0.0.1" || (url.pathname !== "/" && url.pathname !== "")) {
    usage(`--peer-url must be http://127.0.0.1:<port> (loopback, no path), not ${a.url}`);
  }
  const join = methodAndPath("--peer-join", a.join ?? "POST /api/queue/join");
  const poll = methodAndPath("--peer-poll", a.poll ?? "GET /api/queue/status");
  const joinHeaders = Object.fromEntries(a.joinHeaders);
  // A GET carries no body: what numbers its joins goes in the path or a header.
  if (join.method === "GET" && a.joinBody !== undefined) usage('--peer-join-body is for a POST join; a GET join carries no body: put {{n}} in its path or a --peer-join-header');
  const body = join.method === "POST" ? (a.joinBody ?? '{"id":"bench-{{n}}"}') : undefined;
  if (body !== undefined && !Object.keys(joinHeaders).includes("content-type")) joinHeaders["content-type"] = "application/json";
  const pollHeaders = a.pollHeaders.length ? Object.fromEntries(a.pollHeaders) : a.poll ? {} : { authorization: "Bearer {{v}}" };
  return {
    url: url.origin,
    join: { ...join, ...(body !== undefined ? { body } : {}), headers: joinHeaders },
    ticket: a.ticket ?? "json:ticket",
    poll: { ...poll, headers: pollHeaders },
    ...(a.tickets !== undefined ? { tickets: a.tickets } : {}),
    ...(a.pids.length ? { pids: a.pids } : {}),
  };
}

function parseArgs(argv: string[]): { suites: Suite[]; runs: number; quick: boolean; reportOnly: boolean; peer: PeerTarget | undefined } {
  const names: string[] = [];
  let runs: number | undefined;
  let quick = false;
  let reportOnly = false;
  const p: PeerArgs = { joinHeaders: [], pollHeaders: [], pids: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) usage(`${arg} needs a value`);
      return v;
    };
    if (arg === "--quick") quick = true;
    else if (arg === "--peer-url") p.url = value();
    else if (arg === "--peer-join") p.join = value();
    else if (arg === "--peer-join-body") p.joinBody = value();
    else if (arg === "--peer-join-header") p.joinHeaders.push(header(arg, value()));
    else if (arg === "--peer-ticket") p.ticket = value();
    else if (arg === "--peer-poll") p.poll = value();
    else if (arg === "--peer-poll-header") p.pollHeaders.push(header(arg, value()));
    else if (arg === "--peer-tickets") {
      p.tickets = Number(value());
      if (!Number.isInteger(p.tickets) || p.tickets < 1) usage("--peer-tickets takes a whole number");
    }
    else if (arg === "--peer-pid") {
      const pid = Number(value());
      if (!Number.isInteger(pid) || pid < 2 || !existsSync(`/proc/${pid}`)) usage(`--peer-pid takes the id of a running process, not ${argv[i]}`);
      p.pids.push(pid);
    }
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
  return { suites: reportOnly ? [] : suites, runs: runs ?? (quick ? 1 : 5), quick, reportOnly, peer: peerTarget(p) };
}

function commandFor(suite: Suite, runs: number, quick: boolean, peerTarget?: PeerTarget): string {
  const peerArgs = suite.name === "peer" && peerTarget ? ` --peer-url ${peerTarget.url} …` : "";
  return `npm run bench -- ${suite.name}${quick ? " --quick" : ""}${runs !== 5 && !(quick && runs === 1) ? ` --runs ${runs}` : ""}${peerArgs}`;
}

/**
 * The source measured: BENCH_SOURCE when set (a copy outside git says which commit it is), else the
 * commit checked out, with "+ uncommitted changes in src" when src/ differs from it.
 */
function sourceMeasured(): string {
  if (process.env.BENCH_SOURCE) return process.env.BENCH_SOURCE;
  try {
    const git = (...args: string[]) => execFileSync("git", args, { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    const dirty = git("status", "--porcelain", "--", "src") !== "";
    return `${git("rev-parse", "--short", "HEAD")}${dirty ? " + uncommitted changes in src" : ""}`;
  } catch {
    return "unknown";
  }
}

async function main(): Promise<void> {
  const { suites, runs, quick, peer: peerTargetGiven } = parseArgs(process.argv.slice(2));
  // Each suite gets its own log and eachRun (below); these are the settings every suite shares.
  const ctx: Omit<SuiteContext, "log" | "eachRun"> = {
    runs,
    quick,
    seconds: quick ? 2 : 5,
    warmupSeconds: 1,
    connections: 32,
    ...(peerTargetGiven ? { peer: peerTargetGiven } : {}),
  };
  const m = machine();
  if (suites.length) console.log(`bench: ${suites.map((s) => s.name).join(", ")}; ${runs} run(s)${quick ? ", quick" : ""}`);
  console.log(`machine: ${machineLine(m)}`);
  const started = Date.now();
  // Suites that failed as a whole, and suites with some failed runs: either makes the exit status 1.
  const failures: string[] = [];
  for (const suite of suites) {
    const t0 = Date.now();
    const loadBefore = loadavg().map((v) => Math.round(v * 100) / 100);
    console.log(`\n== ${suite.name}: ${suite.title} (load average ${loadBefore.join(", ")})`);
    if (loadBefore[0]! > 0.5) console.log("  note: the machine is busy with other work; figures will be lower and noisier than on an idle machine");
    const log = (msg: string) => console.log(`  ${suite.name}: ${msg}`);
    const failedRuns: FailedRun[] = [];
    const result = (measured: Pick<SuiteResult, "method" | "settings" | "figures" | "raw" | "notes"> & { failure?: string }): SuiteResult => ({
      suite: suite.name,
      title: suite.title,
      command: commandFor(suite, runs, quick, ctx.peer),
      source: sourceMeasured(),
      startedAt: new Date(t0).toISOString(),
      finishedAt: new Date().toISOString(),
      runs,
      failedRuns,
      quick,
      machine: machine(),
      loadAverage: { before: loadBefore, after: loadavg().map((v) => Math.round(v * 100) / 100) },
      ...measured,
    });
    const mintedBefore = mintingStats();
    try {
      const out = await suite.run({ ...ctx, log, eachRun: (measure) => eachRun(runs, measure, failedRuns, log) });
      const minted = mintingStats();
      if (minted.tokens > mintedBefore.tokens) {
        log(`minted ${minted.tokens - mintedBefore.tokens} id_tokens in ${(minted.seconds - mintedBefore.seconds).toFixed(1)} s, before the loads that send them (not measured)`);
      }
      if (out.skipped) {
        log(out.skipped);
        continue;
      }
      const { skipped: _, ...measured } = out;
      const file = writeSuiteResult(result(measured));
      console.log(`  wrote ${file} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
      if (failedRuns.length) failures.push(`${suite.name}: ${failedRuns.length} of ${runs} runs failed`);
    } catch (err) {
      // The suite as a whole failed (every run, or what comes before or after them): it is written as
      // failed, so the summary says so instead of showing an older result's figures, and the next suite runs.
      console.error(`  ${suite.name} failed:`, err);
      const file = writeSuiteResult(result({ method: "", settings: {}, figures: [], raw: [], notes: [], failure: errorMessage(err) }));
      console.log(`  wrote ${file}, the suite failed`);
      failures.push(`${suite.name}: failed (${errorMessage(err).split("\n")[0]})`);
    } finally {
      await cleanupAll();
    }
  }
  removeBundles();

  // The summary covers every suite that has results, this run's and earlier ones', in the issue's order.
  const all = SUITES.map((s) => readSuiteResult(s.name)).filter((r): r is SuiteResult => r !== undefined);
  const table = summaryTable(all);
  const block = [
    ...measuredWhereAndWhen(all),
    "",
    table,
    "",
    "Medians of the runs, (min–max) in brackets; each ratio is computed run by run (value / baseline of the same run), then its median is taken.",
    `Load average (1 min) when each suite started: ${all.map((r) => `${r.suite} ${r.loadAverage?.before[0] ?? "?"}`).join(", ")}; above ~0.5 means other work shared the 2 cores.`,
  ].join("\n");
  writeFileSync(join(resultsDir, "summary.md"), `# Benchmark summary\n\n${block}\n`);
  updateReadme(block);
  console.log(`\n${table}\n\nwrote ${join(resultsDir, "summary.md")} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  if (failures.length > 0) {
    console.error(`\nnot every run succeeded:\n${failures.map((f) => `  ${f}`).join("\n")}`);
    process.exitCode = 1;
  }
}

/**
 * When and on what machine the summary's figures were measured. Suites keep their results until re-run,
 * so one summary may hold figures of several machines: each machine gets its own line naming its suites,
 * never one line that would claim every figure for the last machine.
 */
function measuredWhereAndWhen(all: SuiteResult[]): string[] {
  if (all.length === 0) return [`Measured on: ${machineLine(machine())}.`];
  const byMachine = new Map<string, SuiteResult[]>();
  for (const r of all) {
    const line = machineLine(r.machine);
    byMachine.set(line, [...(byMachine.get(line) ?? []), r]);
  }
  const utc = (iso: string) => `${iso.slice(0, 16).replace("T", " ")} UTC`;
  if (byMachine.size === 1) return [`Measured ${utc(all.map((r) => r.finishedAt).sort().at(-1)!)} on: ${[...byMachine.keys()][0]}.`];
  return [...byMachine].map(([line, suites]) => {
    const times = suites.map((r) => r.finishedAt).sort();
    const span = utc(times[0]!) === utc(times.at(-1)!) ? utc(times[0]!) : `${utc(times[0]!)} to ${utc(times.at(-1)!)}`;
    return `- ${suites.map((r) => r.suite).join(", ")}: measured ${span} on ${line}.`;
  });
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
