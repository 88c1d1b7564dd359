import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { cohortsBinding } from "../../scripts/cohorts.js";
import { demoCohorts } from "../../scripts/local-bindings.js";
import {
  applyOverrides,
  cohortsInForce,
  cohortsOf,
  OverridesError,
  parseOverrides,
  withChange,
  type InForce,
} from "../../scripts/operator-overrides.js";
import { root } from "./support/stack.js";

/**
 * `npm run ops` without a running edge: the overrides file it keeps, the commands it refuses, and its
 * `--deploy --dry-run` path through wrangler. (Against a running `npm start`: operating.test.ts.)
 */

let stateDir: string;
beforeEach(() => {
  stateDir = mkdtempSync(join(tmpdir(), "ops-command-"));
});
afterEach(() => rmSync(stateDir, { recursive: true, force: true }));

/** The command as `npm run ops` runs it, on this test's state folder. */
function ops(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "scripts/ops.ts", ...args], { cwd: root, env: { ...process.env, EDGE_STATE_DIR: stateDir, NO_COLOR: "1" } });
    let out = "";
    let err = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
    child.once("exit", (code) => resolve({ code, out, err }));
  });
}

const COHORTS = JSON.stringify([
  ...(JSON.parse(cohortsBinding(["55-59", "53-54"])) as object[]),
  // A cohort whose own entry sets its rate: "all" must reach it too.
  { ...(JSON.parse(cohortsBinding(["50-52"])) as object[])[0], admitPerMinute: 5 },
]);
const BASE: InForce["base"] = {
  ADMIT_PER_MINUTE: { value: "60", source: "wrangler.toml" },
  PAUSED: { value: "false", source: "wrangler.toml" },
  COHORTS: { value: COHORTS, source: "environment" },
};

describe("the overrides file", () => {
  it("is read only when every field is one an operator may set, with a one-line reason otherwise", () => {
    expect(parseOverrides('{"admitPerMinute":30,"cohorts":{"55-59":{"paused":true}}}', "f")).toEqual({ admitPerMinute: 30, cohorts: { "55-59": { paused: true } } });
    expect(parseOverrides("{}", "f")).toEqual({ cohorts: {} });
    const refusals: Array<[string, string]> = [
      ["{", "f is not JSON"],
      ['{"admitPerMinute":0}', "f: admitPerMinute must be above 0"],
      ['{"admitPerMinute":"30"}', "f: admitPerMinute must be a number"],
      ['{"cohorts":{"55-59":{"paused":"yes"}}}', "f: cohorts.55-59.paused must be true or false"],
      ['{"maxActive":3}', 'Unrecognized key: "maxActive"'],
      ['{"cohorts":{"55-59":{"opensAt":"2021-07-12T20:00:00+09:00"}}}', 'Unrecognized key: "opensAt"'],
    ];
    for (const [text, reason] of refusals) {
      expect(() => parseOverrides(text, "f")).toThrow(OverridesError);
      expect(() => parseOverrides(text, "f")).toThrow(reason);
    }
  });

  it("lays the rate and the pause over the bindings, and refuses a cohort the bindings do not list", () => {
    const vars = { ADMIT_PER_MINUTE: "60", PAUSED: "false", COHORTS };
    const applied = applyOverrides(vars, { paused: true, cohorts: { "53-54": { admitPerMinute: 12, paused: false } } });
    expect(applied.PAUSED).toBe("true");
    expect(applied.ADMIT_PER_MINUTE).toBe("60");
    expect(cohortsOf(applied.COHORTS).find((c) => c.id === "53-54")).toMatchObject({ admitPerMinute: 12, paused: false });
    expect(() => applyOverrides(vars, { cohorts: { "40-49": { paused: true } } })).toThrow(/cohort 40-49, which COHORTS does not list/);
  });

  it("'all' reaches every cohort, those with a rate of their own included; status names where each value comes from", () => {
    const cohorts = cohortsOf(COHORTS);
    const one = withChange({ cohorts: {} }, { kind: "rate", perMinute: 12 }, { cohort: "55-59" });
    expect(cohortsInForce(BASE, one).map((c) => [c.cohort.id, c.admitPerMinute, c.rateSource])).toEqual([
      ["55-59", 12, "ops override"],
      ["53-54", 60, "wrangler.toml"],
      ["50-52", 5, "environment"],
    ]);
    const all = withChange(one, { kind: "rate", perMinute: 30 }, { all: cohorts });
    expect(all).toEqual({ admitPerMinute: 30, cohorts: { "50-52": { admitPerMinute: 30 } } });
    expect(cohortsInForce(BASE, all).map((c) => c.admitPerMinute)).toEqual([30, 30, 30]);
    const paused = withChange(all, { kind: "paused", paused: true }, { all: cohorts });
    expect(cohortsInForce(BASE, paused).map((c) => [c.paused, c.pausedSource])).toEqual([[true, "ops override"], [true, "ops override"], [true, "ops override"]]);
  });

  it("keeps the demo cohorts' openings in the state folder: the same at every start, new in a fresh folder", () => {
    const first = demoCohorts(stateDir, new Date("2026-12-05T10:00:00Z"));
    expect(demoCohorts(stateDir, new Date("2026-12-05T11:07:00Z"))).toBe(first);
    const fresh = mkdtempSync(join(tmpdir(), "ops-command-"));
    try {
      expect(demoCohorts(fresh, new Date("2026-12-05T11:07:00Z"))).not.toBe(first);
    } finally {
      rmSync(fresh, { recursive: true, force: true });
    }
    expect(cohortsOf(first).find((c) => c.id === "50-52")!.opensAt).toBe("2026-12-05T10:30:00.000Z");
  });
});

describe("npm run ops", () => {
  it("refuses an unknown cohort, a bad number or command, with exit code 2, and writes nothing", async () => {
    const refusals: Array<[string[], RegExp]> = [
      [["pause", "40-49"], /no cohort "40-49": the cohorts in force are 55-59, 53-54, 50-52 \(or all\)/],
      [["rate", "all", "abc"], /"abc" is not a rate per minute/],
      [["rate", "all", "0"], /"0" is not a rate per minute/],
      [["rate", "55-59", "-3"], /"-3" is not a rate per minute/],
      [["rate", "all"], /rate takes a cohort id \(or all\) and a rate per minute/],
      [["frobnicate"], /unknown command "frobnicate"/],
      [["--dry-run", "pause", "all"], /--dry-run goes with --deploy/],
    ];
    for (const [args, reason] of refusals) {
      const { code, err } = await ops(...args);
      expect(code, args.join(" ")).toBe(2);
      expect(err).toMatch(reason);
      expect(err).toContain("usage: npm run ops --");
    }
    expect(existsSync(join(stateDir, "operators.json"))).toBe(false);
  });

  it("writes a change for the next npm start when no edge runs, and reset removes it", async () => {
    const paused = await ops("pause", "50-52");
    expect(paused.code, paused.err).toBe(0);
    expect(paused.out).toContain("Paused cohort 50-52");
    expect(paused.out).toContain("the change applies at the next `npm start`");
    expect(JSON.parse(readFileSync(join(stateDir, "operators.json"), "utf8"))).toEqual({ cohorts: { "50-52": { paused: true } } });
    const status = await ops("status");
    expect(status.out).toMatch(/50-52 \(Ages 50-52\): not open yet \(opens \d{4}-\d\d-\d\d \d\d:\d\d KST\); then paused +\[rate 20\/min from npm start's local default; paused, from ops override\]/);
    expect(status.out).toMatch(/55-59 \(Ages 55-59\): open, admitting 20\/min/);
    expect((await ops("reset")).code).toBe(0);
    expect(existsSync(join(stateDir, "operators.json"))).toBe(false);
  });

  it("refuses to build on an overrides file it cannot read, naming it, until reset", async () => {
    writeFileSync(join(stateDir, "operators.json"), "not json");
    const rated = await ops("rate", "all", "30");
    expect(rated.code).toBe(1);
    expect(rated.err).toContain("operators.json is not JSON");
    expect(rated.err).toContain("`npm run ops -- reset` removes it");
    expect((await ops("reset")).code).toBe(0);
    expect((await ops("rate", "all", "30")).code).toBe(0);
  });

  it("--deploy --dry-run prints the wrangler command with the new vars, runs wrangler's dry run, and changes nothing", async () => {
    const { code, out, err } = await ops("--deploy", "--dry-run", "rate", "all", "100");
    expect(code, err).toBe(0);
    expect(out).toMatch(/^Would run \(running wrangler's dry run now\): npx wrangler deploy --var ADMIT_PER_MINUTE:100 --message 'npm run ops: rate all 100' --dry-run --outdir \S+$/m);
    // wrangler's own report of the dry run.
    expect(out).toContain("--dry-run: exiting now.");
    expect(out).toContain("env.ADMIT_PER_MINUTE");
    expect(out).toContain("Dry run: the deployment is unchanged. Without --dry-run, a new Worker version is deployed: Set the admission rate of every cohort to 100 a minute (vars ADMIT_PER_MINUTE).");
    expect(existsSync(join(stateDir, "operators-deploy.json"))).toBe(false);
    // A cohort of wrangler.toml's, changed alone, goes out as a new COHORTS var.
    const paused = await ops("--deploy", "--dry-run", "pause", "50-52");
    expect(paused.code, paused.err).toBe(0);
    expect(paused.out).toMatch(/npx wrangler deploy --var 'COHORTS:\[.*"id":"50-52".*"paused":true\}\]'/);
    // The deployment's cohorts are wrangler.toml's: a local demo cohort name is checked against those.
    expect((await ops("--deploy", "--dry-run", "pause", "40-49")).code).toBe(2);
  }, 240_000);
});
