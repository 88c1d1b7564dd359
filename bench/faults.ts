/**
 * `npm run faults`: the fault suite of issue 11. Each scenario starts the stack as `npm start` does, puts
 * a crowd in the line (waiting, holding passes, booking), injects its fault, and checks the suite's
 * ledger against the truth: places lost, bookings lost, duplicated, oversold (all must be 0), and the
 * 5xx answers of the project (the designed 503 while a dependency is down counted apart).
 *
 *   npm run faults                          every scenario, full size
 *   npm run faults -- eviction clock        some scenarios, by name
 *   npm run faults -- --quick               every scenario, smaller (CI)
 *   npm run faults -- fuzz --seed 1234      replay a fuzz
 *
 * Writes bench/results/faults.json and the table in bench/README.md; exits 1 if any scenario failed.
 */
import { randomInt } from "node:crypto";
import { loadavg } from "node:os";
import { clockJumps, eviction } from "./faults/shard-faults.js";
import { postgresRestart, slowDatabase } from "./faults/database-faults.js";
import { fuzz } from "./faults/fuzz.js";
import { onePassFlood, originCrash, originPortFlood } from "./faults/gate-guard.js";
import { ghosts } from "./faults/ghosts.js";
import { runScenario, type ScenarioContext, type ScenarioResult, type ScenarioSpec } from "./faults/harness.js";
import { startPrivatePostgres, type PrivatePostgres } from "./faults/postgres.js";
import { edgeKill, originKill, workerdKill } from "./faults/process-kills.js";
import { writeFaultResults } from "./faults/report.js";
import { cleanupAll } from "./lib/processes.js";

/** In the order of issue 11's list, then issue 24's. */
const SCENARIOS: Record<string, (ctx: ScenarioContext) => ScenarioSpec> = {
  "origin-kill": (ctx) => originKill(ctx, "postgres"),
  "postgres-restart": postgresRestart,
  "pglite-kill": (ctx) => originKill(ctx, "pglite"),
  "edge-kill": edgeKill,
  eviction,
  "slow-db": slowDatabase,
  clock: clockJumps,
  fuzz,
  // Issue 24.
  "workerd-kill": workerdKill,
  ghosts,
  "one-pass-flood": onePassFlood,
  "origin-port-flood": originPortFlood,
  "origin-crash": originCrash,
};

function usage(message: string): never {
  console.error(message);
  console.error(`usage: npm run faults -- [${Object.keys(SCENARIOS).join("|")} ...] [--quick] [--seed N]`);
  process.exit(2);
}

function parseArgs(argv: string[]): { names: string[]; quick: boolean; seed: number } {
  const names: string[] = [];
  let quick = false;
  let seed: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--quick") quick = true;
    else if (arg === "--seed") {
      const value = Number(argv[++i]);
      if (!Number.isSafeInteger(value) || value < 0) usage("--seed takes a whole number");
      seed = value;
    } else if (arg in SCENARIOS) names.push(arg);
    else usage(`unknown scenario or option: ${arg}`);
  }
  return { names: names.length ? names : Object.keys(SCENARIOS), quick, seed: seed ?? randomInt(0, 2 ** 31) };
}

async function main(): Promise<number> {
  const { names, quick, seed } = parseArgs(process.argv.slice(2));
  const log = (message: string) => console.log(`[faults] ${message}`);
  log(`scenarios: ${names.join(", ")}${quick ? " (quick)" : ""}; seed ${seed} (replay the fuzz with --seed ${seed})`);
  let postgres: Promise<PrivatePostgres> | undefined;
  const ctx: ScenarioContext = {
    quick,
    seed,
    log,
    postgres: () => (postgres ??= startPrivatePostgres()),
  };
  const postgresVersion = async () => (postgres ? (await postgres.catch(() => undefined))?.version : undefined);
  const startedAt = new Date();
  const loadBefore = loadavg();
  const results: ScenarioResult[] = [];
  try {
    for (const name of names) {
      const spec = SCENARIOS[name]!(ctx);
      log(`${name}: ${spec.fault}`);
      const result = await runScenario(ctx, spec);
      results.push(result);
      const c = result.counts;
      log(
        `${name}: ${result.passed ? "PASS" : "FAIL"} in ${(result.durationMs / 1000).toFixed(0)} s; places lost ${c.placesLost}, bookings lost ${c.bookingsLost}, ` +
          `duplicated ${c.duplicated}, oversold ${c.oversold}, project 5xx ${c.project5xx}, designed 503 ${c.unavailable503}, no answer ${c.noAnswer}, requests ${c.requests}`,
      );
      for (const failure of result.failures) log(`  ${name}: ${failure}`);
      // Written after each scenario, so an interrupted run keeps what it measured.
      writeFaultResults({ results, quick, seed, startedAt, loadBefore, postgresVersion: await postgresVersion() });
    }
  } finally {
    const server = postgres ? await postgres.catch(() => undefined) : undefined;
    await server?.destroy();
  }
  const file = writeFaultResults({ results, quick, seed, startedAt, loadBefore, postgresVersion: await postgresVersion() });
  log(`wrote ${file}`);
  const failed = results.filter((r) => !r.passed);
  log(failed.length ? `${failed.length} of ${results.length} scenarios failed: ${failed.map((r) => r.name).join(", ")}` : `all ${results.length} scenarios passed`);
  return failed.length ? 1 : 0;
}

// Ctrl-C: the stacks, the private PostgreSQL server and the temporary folders go with the suite.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    console.error(`[faults] ${signal}: cleaning up`);
    void cleanupAll().finally(() => process.exit(130));
  });
}

main().then(
  async (code) => {
    await cleanupAll();
    process.exit(code);
  },
  async (err: unknown) => {
    console.error(err);
    await cleanupAll();
    process.exit(1);
  },
);
