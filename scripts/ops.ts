/**
 * `npm run ops -- <command>`: operating the line without a restart.
 *
 *   status                          what is in force per cohort, and where each value comes from
 *   rate <cohort|all> <per-minute>  the admission rate
 *   pause <cohort|all>              stop admitting (places are kept; joins still take a place)
 *   resume <cohort|all>             admit again
 *   reset                           drop every override: wrangler.toml and the environment again
 *
 * Locally a change is written to the overrides file in the edge's state folder (EDGE_STATE_DIR, git-ignored;
 * scripts/operator-overrides.ts), which a running `npm start` applies within a couple of seconds without a
 * restart (scripts/edge.ts), and every later `npm start` applies too, until `reset`. This command waits for
 * the running edge to say it serves the change, and says so.
 *
 * With `--deploy`, the same change is made to the deployed Worker's vars through `wrangler deploy --var`
 * (a new Worker version: no downtime, Durable Objects untouched), on top of wrangler.toml's [vars] and the
 * earlier `--deploy` changes (kept in DEPLOY_OVERRIDES_FILE beside the local ones). `--dry-run` prints the
 * command and runs wrangler's dry run instead, changing nothing.
 *
 * Exit codes: 0 done; 2 a refused command (unknown command or cohort, a bad number); 1 anything else (a
 * bad overrides file, wrangler failing, a running edge that did not apply the change).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import type { CohortConfig } from "../src/edge/config.js";
import { localOperatorDefaults, operatorBase, wranglerVars } from "./local-bindings.js";
import {
  applyOverrides,
  cohortsInForce,
  cohortsOf,
  describeCohort,
  edgeStateDir,
  NO_OVERRIDES,
  OPERATOR_BINDINGS,
  OverridesError,
  overridesPath,
  parseOverrides,
  readInForce,
  readOverrides,
  removeOverrides,
  withChange,
  writeOverrides,
  type Change,
  type InForce,
  type OperatorOverrides,
} from "./operator-overrides.js";

const root = fileURLToPath(new URL("..", import.meta.url));

/** The `--deploy` changes made so far, so that each deploy carries the earlier ones too. */
export const DEPLOY_OVERRIDES_FILE = "operators-deploy.json";
/** How long a change may take to reach a running edge before this command says it did not. */
const PICKUP_LIMIT_MS = 10_000;

const USAGE = `usage: npm run ops -- [--deploy [--dry-run]] <command>
  status                          what is in force per cohort, and where each value comes from
  rate <cohort|all> <per-minute>  set the admission rate (people per minute, cohort-wide)
  pause <cohort|all>              stop admitting; everyone keeps their place
  resume <cohort|all>             admit again
  reset                           drop every override: back to wrangler.toml and the environment`;

/** A command refused as given: printed with the usage hint, exit code 2. */
class Refusal extends Error {}

type Command = { name: "status" } | { name: "reset" } | { name: "change"; target: string; change: Change; words: string };

/** The command line's words as a command, or a Refusal naming what is wrong. */
function parseCommand(words: readonly string[]): Command {
  const [name, ...rest] = words;
  const arity = (n: number, shape: string) => {
    if (rest.length !== n) throw new Refusal(`${name} takes ${shape}`);
  };
  switch (name) {
    case "status":
    case "reset":
      arity(0, "no arguments");
      return { name };
    case "pause":
    case "resume":
      arity(1, "one cohort id, or all");
      return { name: "change", target: rest[0]!, change: { kind: "paused", paused: name === "pause" }, words: words.join(" ") };
    case "rate": {
      arity(2, "a cohort id (or all) and a rate per minute, e.g. rate all 30");
      const text = rest[1]!;
      const perMinute = Number(text);
      if (!/^\d+(\.\d+)?$/.test(text) || !(perMinute > 0) || perMinute > 1_000_000) {
        throw new Refusal(`rate: ${JSON.stringify(text)} is not a rate per minute (a number above 0 and at most 1000000, like 30 or 0.5)`);
      }
      return { name: "change", target: rest[0]!, change: { kind: "rate", perMinute }, words: words.join(" ") };
    }
    case undefined:
      throw new Refusal("no command given");
    default:
      throw new Refusal(`unknown command ${JSON.stringify(name)}`);
  }
}

/** The target as `withChange` takes it, or a Refusal naming the cohorts there are. */
function targetOf(target: string, cohorts: CohortConfig[]): { cohort: string } | { all: CohortConfig[] } {
  if (target === "all") return { all: cohorts };
  if (cohorts.some((c) => c.id === target)) return { cohort: target };
  throw new Refusal(`no cohort ${JSON.stringify(target)}: the cohorts in force are ${cohorts.map((c) => c.id).join(", ")} (or all)`);
}

/** A path as the operator would type it: relative to the project when inside it. */
function shown(path: string): string {
  const inside = relative(root, path);
  return inside && !inside.startsWith("..") ? inside : path;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function cohortLines(base: InForce["base"], overrides: OperatorOverrides, only?: string): string[] {
  const now = Date.now();
  return cohortsInForce(base, overrides)
    .filter((c) => only === undefined || only === "all" || c.cohort.id === only)
    .map((c) => {
      const opened = now >= Date.parse(c.cohort.opensAt);
      const where = `rate ${c.admitPerMinute}/min from ${c.rateSource}; ${c.paused ? "paused" : "not paused"}, from ${c.pausedSource}`;
      return `  ${c.cohort.id} (${c.cohort.label.en}): ${opened ? "open, " : ""}${describeCohort(c, now)}  [${where}]`;
    });
}

/** Runs one command against this machine's `npm start`; returns the exit code. */
async function local(command: Command): Promise<number> {
  const stateDir = edgeStateDir();
  const edge = readInForce(stateDir);
  const base = edge?.base ?? operatorBase(wranglerVars(), localOperatorDefaults(stateDir), process.env);
  const cohorts = cohortsOf(base.COHORTS?.value);
  let current: OperatorOverrides;
  try {
    current = readOverrides(stateDir).overrides;
  } catch (err) {
    if (!(err instanceof OverridesError)) throw err;
    if (command.name !== "reset") {
      console.error(`${err.message}\n\`npm run ops -- reset\` removes it (back to wrangler.toml and the environment).`);
      return 1;
    }
    current = NO_OVERRIDES;
  }

  if (command.name === "status") {
    console.log(
      edge
        ? `The edge is running (pid ${edge.pid}, http://127.0.0.1:${edge.port}/), serving ${edge.revision === "none" ? "no overrides" : `overrides ${edge.revision}`} since ${edge.at}.`
        : `No edge is running on ${shown(stateDir)}: this is what the next \`npm start\` applies.`,
    );
    console.log(existsSync(overridesPath(stateDir)) ? `Overrides: ${shown(overridesPath(stateDir))}` : "Overrides: none (wrangler.toml, npm start's defaults and the environment)");
    for (const line of cohortLines(base, current)) console.log(line);
    return 0;
  }

  let next: OperatorOverrides;
  let did: string;
  if (command.name === "reset") {
    next = NO_OVERRIDES;
    did = "Removed the operators' overrides: back to wrangler.toml, npm start's defaults and the environment.";
  } else {
    next = withTarget(current, command, cohorts);
    did = `${describeChange(command)}.`;
  }
  // Refused before it is written: a running edge would refuse it too.
  applyOverrides(Object.fromEntries(OPERATOR_BINDINGS.flatMap((n) => (base[n] ? [[n, base[n].value]] : []))), next);
  const revision = command.name === "reset" ? removeOverrides(stateDir) : writeOverrides(stateDir, next);
  console.log(did);
  for (const line of cohortLines(base, next, command.name === "change" ? command.target : undefined)) console.log(line);
  if (command.name === "change" && command.change.kind === "rate") {
    console.log("With the autopilot on (AUTOPILOT), a lower rate applies at once and a higher one is climbed to gradually while the origin stays healthy; the operators' console shows the rate in force.");
  }

  if (!edge) {
    console.log(`No edge is running on ${shown(stateDir)}: the change applies at the next \`npm start\` (kept in ${shown(overridesPath(stateDir))} until \`npm run ops -- reset\`).`);
    return 0;
  }
  const began = Date.now();
  for (;;) {
    const now = readInForce(stateDir);
    if (now?.revision === revision) {
      console.log(`The running edge (http://127.0.0.1:${now.port}/) serves it now (applied ${Date.now() - began} ms after it was written, without a restart).`);
      return 0;
    }
    if (!now) {
      console.log(`The edge stopped meanwhile: the change applies at the next \`npm start\`.`);
      return 0;
    }
    if (Date.now() - began > PICKUP_LIMIT_MS) {
      console.error(`The running edge (pid ${now.pid}) has not applied it within ${PICKUP_LIMIT_MS / 1000} s; see its [edge] lines. The change is kept and applies at the next \`npm start\`.`);
      return 1;
    }
    await sleep(50);
  }
}

function withTarget(current: OperatorOverrides, command: Extract<Command, { name: "change" }>, cohorts: CohortConfig[]): OperatorOverrides {
  return withChange(current, command.change, targetOf(command.target, cohorts));
}

function describeChange(command: Extract<Command, { name: "change" }>): string {
  const who = command.target === "all" ? "every cohort" : `cohort ${command.target}`;
  const { change } = command;
  return change.kind === "rate" ? `Set the admission rate of ${who} to ${change.perMinute} a minute` : `${change.paused ? "Paused" : "Resumed"} ${who}`;
}

/** A shell word: quoted unless it needs none. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Runs one command against the deployment, through wrangler; returns the exit code. */
function deploy(command: Command, dryRun: boolean): number {
  const stateDir = edgeStateDir();
  const path = join(stateDir, DEPLOY_OVERRIDES_FILE);
  const toml = wranglerVars();
  const base: InForce["base"] = Object.fromEntries(OPERATOR_BINDINGS.flatMap((n) => (toml[n] !== undefined ? [[n, { value: toml[n], source: "wrangler.toml" as const }]] : [])));
  let current: OperatorOverrides = NO_OVERRIDES;
  if (existsSync(path)) {
    try {
      current = parseOverrides(readFileSync(path, "utf8"), path);
    } catch (err) {
      if (!(err instanceof OverridesError) || command.name !== "reset") throw err;
    }
  }
  if (command.name === "status") {
    console.log(`The deployment, as the --deploy changes made from here left it (wrangler.toml's [vars]${existsSync(path) ? ` and ${shown(path)}` : ""}):`);
    for (const line of cohortLines(base, current)) console.log(line);
    return 0;
  }
  const next = command.name === "reset" ? NO_OVERRIDES : withTarget(current, command, cohortsOf(toml.COHORTS));
  const vars = applyOverrides(Object.fromEntries(OPERATOR_BINDINGS.flatMap((n) => (toml[n] !== undefined ? [[n, toml[n]]] : []))), next);
  const changed = OPERATOR_BINDINGS.filter((n) => vars[n] !== undefined && vars[n] !== toml[n]);
  const message = `npm run ops: ${command.name === "change" ? command.words : command.name}`;
  const outdir = dryRun ? mkdtempSync(join(tmpdir(), "ops-dry-run-")) : undefined;
  const args = ["deploy", ...changed.flatMap((n) => ["--var", `${n}:${vars[n]}`]), "--message", message, ...(outdir ? ["--dry-run", "--outdir", outdir] : [])];
  console.log(`${dryRun ? "Would run (running wrangler's dry run now)" : "Running"}: npx wrangler ${args.map(shellWord).join(" ")}`);
  const wrangler = spawnSync(join(root, "node_modules/.bin/wrangler"), args, {
    cwd: root,
    stdio: ["ignore", "inherit", "inherit"],
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" },
  });
  if (outdir) rmSync(outdir, { recursive: true, force: true });
  if (wrangler.status !== 0) {
    console.error(`wrangler ${dryRun ? "dry run " : ""}failed (${wrangler.error?.message ?? `exit code ${wrangler.status}`}); the deployment is unchanged.`);
    return 1;
  }
  const what = command.name === "reset" ? "wrangler.toml's vars, no operator overrides" : `${describeChange(command)} (vars ${changed.join(", ") || "as in wrangler.toml"})`;
  if (dryRun) {
    console.log(`Dry run: the deployment is unchanged. Without --dry-run, a new Worker version is deployed: ${what}.`);
    return 0;
  }
  if (command.name === "reset") rmSync(path, { force: true });
  else writeOverrides(stateDir, next, DEPLOY_OVERRIDES_FILE);
  console.log(`Deployed a new Worker version: ${what}. Durable Objects and their places are untouched.`);
  for (const line of cohortLines(base, next, command.name === "change" ? command.target : undefined)) console.log(line);
  return 0;
}

async function main(argv: readonly string[]): Promise<number> {
  const flags = new Set(argv.filter((w) => w.startsWith("--")));
  const words = argv.filter((w) => !w.startsWith("--"));
  if (flags.has("--help")) {
    console.log(USAGE);
    return 0;
  }
  try {
    const unknown = [...flags].filter((f) => !["--deploy", "--dry-run"].includes(f));
    if (unknown.length > 0) throw new Refusal(`unknown option ${unknown.join(", ")}`);
    if (flags.has("--dry-run") && !flags.has("--deploy")) throw new Refusal("--dry-run goes with --deploy (a local change is made by the command itself)");
    const command = parseCommand(words);
    return flags.has("--deploy") ? deploy(command, flags.has("--dry-run")) : await local(command);
  } catch (err) {
    if (err instanceof Refusal) {
      console.error(`npm run ops: ${err.message}\n${USAGE}`);
      return 2;
    }
    if (err instanceof OverridesError || (err instanceof Error && err.name === "ConfigError")) {
      console.error(`npm run ops: ${err.message}`);
      return 1;
    }
    throw err;
  }
}

process.exitCode = await main(process.argv.slice(2));
