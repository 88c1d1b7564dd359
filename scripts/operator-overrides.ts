/**
 * Operators' overrides of the edge's bindings on one machine: what `npm run ops` (scripts/ops.ts) writes
 * and `npm start`'s edge (scripts/edge.ts) applies without a restart. Deployed, the same settings are the
 * Worker's vars (a change is a new Worker version); locally they are a JSON file in the edge's state folder
 * (EDGE_STATE_DIR, git-ignored), laid over wrangler.toml and the environment, until `npm run ops -- reset`
 * removes it. Only the settings an operator turns during an opening are here: the admission rate and the
 * pause, cohort-wide (the global ADMIT_PER_MINUTE and PAUSED) or per cohort (COHORTS entries'
 * `admitPerMinute` and `paused`, as src/edge/config.ts reads them).
 *
 * The edge also writes, after each set of bindings it starts serving, what it serves with (IN_FORCE_FILE):
 * the bindings before the overrides, where each came from, and the overrides' revision. `npm run ops`
 * reads it to know the cohorts in force and whether a running edge picked a change up.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { cohortConfig, ConfigError, type CohortConfig } from "../src/edge/config.js";

const root = fileURLToPath(new URL("..", import.meta.url));

/** The overrides `npm run ops` writes, inside the edge's state folder. */
export const OVERRIDES_FILE = "operators.json";
/** What the running edge serves with, written by it after each (re)load. */
export const IN_FORCE_FILE = "operators-in-force.json";

/** The edge's state folder as scripts/start.ts and scripts/edge.ts resolve it: EDGE_STATE_DIR, relative to the project. */
export function edgeStateDir(env: Record<string, string | undefined> = process.env): string {
  return resolve(root, env.EDGE_STATE_DIR || ".wrangler/state");
}

const rate = z.number({ error: "must be a number" }).finite().positive("must be above 0").max(1_000_000, "must be at most 1000000");
const setting = z.strictObject({ admitPerMinute: rate.optional(), paused: z.boolean({ error: "must be true or false" }).optional() });
export type OperatorSetting = z.infer<typeof setting>;

export const operatorOverrides = z.strictObject({
  /** Every cohort's, in place of ADMIT_PER_MINUTE and PAUSED (a cohort's own setting still wins). */
  ...setting.shape,
  /** One cohort's, in place of its COHORTS entry's own or the global ones. */
  cohorts: z.record(cohortConfig.shape.id, setting).default({}),
});
export type OperatorOverrides = z.infer<typeof operatorOverrides>;

export const NO_OVERRIDES: OperatorOverrides = { cohorts: {} };

/** Thrown for an overrides file that is not one: the message is one line, naming the file. */
export class OverridesError extends Error {
  override name = "OverridesError";
}

/** Where `npm run ops` keeps its overrides for this state folder. */
export function overridesPath(stateDir: string): string {
  return join(stateDir, OVERRIDES_FILE);
}

/** The overrides text parsed, or an OverridesError naming what is wrong with it. */
export function parseOverrides(text: string, where: string): OperatorOverrides {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new OverridesError(`${where} is not JSON`);
  }
  const parsed = operatorOverrides.safeParse(json);
  if (!parsed.success) {
    throw new OverridesError(`${where}: ${parsed.error.issues.map((i) => (i.path.length ? `${i.path.join(".")} ${i.message}` : i.message)).join("; ")}`);
  }
  return parsed.data;
}

/** The overrides in the state folder (none when there is no file), and the revision that names their text. */
export function readOverrides(stateDir: string): { overrides: OperatorOverrides; revision: string } {
  const path = overridesPath(stateDir);
  if (!existsSync(path)) return { overrides: NO_OVERRIDES, revision: revisionOf(undefined) };
  const text = readFileSync(path, "utf8");
  return { overrides: parseOverrides(text, path), revision: revisionOf(text) };
}

/** A short name for a version of the overrides file's text; the same for "no file" every time. */
export function revisionOf(text: string | undefined): string {
  return text === undefined ? "none" : createHash("sha256").update(text).digest("hex").slice(0, 16);
}

/** Writes the overrides whole (a temporary file renamed over the old one, so the edge never reads half); returns the revision. */
export function writeOverrides(stateDir: string, overrides: OperatorOverrides, file = OVERRIDES_FILE): string {
  const path = join(stateDir, file);
  mkdirSync(dirname(path), { recursive: true });
  const text = `${JSON.stringify(overrides, null, 2)}\n`;
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, text);
  renameSync(temporary, path);
  return revisionOf(text);
}

/** Removes the overrides: wrangler.toml and the environment again. */
export function removeOverrides(stateDir: string): string {
  rmSync(overridesPath(stateDir), { force: true });
  return revisionOf(undefined);
}

/** The bindings the overrides touch. */
export const OPERATOR_BINDINGS = ["ADMIT_PER_MINUTE", "PAUSED", "COHORTS", "MAX_ACTIVE"] as const;

/** The COHORTS binding parsed as the edge parses it, or a ConfigError naming it. */
export function cohortsOf(binding: string | undefined): CohortConfig[] {
  let json: unknown;
  try {
    json = JSON.parse(binding ?? "");
  } catch {
    throw new ConfigError("COHORTS must be a JSON list");
  }
  const parsed = z.array(cohortConfig).safeParse(json);
  if (!parsed.success) throw new ConfigError(`COHORTS: ${parsed.error.issues[0]?.message ?? "not a list of cohorts"}`);
  return parsed.data;
}

/**
 * The bindings with the overrides laid over them: ADMIT_PER_MINUTE and PAUSED replaced by the global
 * overrides, each COHORTS entry given its cohort's. Every other binding is passed through. A cohort the
 * overrides name but COHORTS does not list is refused: the setting would silently apply to nothing.
 */
export function applyOverrides(vars: Readonly<Record<string, string>>, overrides: OperatorOverrides): Record<string, string> {
  const out = { ...vars };
  if (overrides.admitPerMinute !== undefined) out.ADMIT_PER_MINUTE = String(overrides.admitPerMinute);
  if (overrides.paused !== undefined) out.PAUSED = String(overrides.paused);
  const named = Object.keys(overrides.cohorts);
  if (named.length === 0) return out;
  const cohorts = cohortsOf(vars.COHORTS);
  const unknown = named.filter((id) => !cohorts.some((c) => c.id === id));
  if (unknown.length > 0) throw new OverridesError(`the overrides name cohort ${unknown.join(", ")}, which COHORTS does not list (cohorts: ${cohorts.map((c) => c.id).join(", ")})`);
  out.COHORTS = JSON.stringify(cohorts.map((c) => ({ ...c, ...overrides.cohorts[c.id] })));
  return out;
}

/** A setting an operator changes: the rate, or whether the line is paused. */
export type Change = { kind: "rate"; perMinute: number } | { kind: "paused"; paused: boolean };

/**
 * The overrides after a change to one cohort, or to all of them (`cohorts` undefined). "All" sets the global
 * value and makes every cohort follow it: a cohort override of the same setting is dropped, and a cohort
 * whose COHORTS entry sets its own value gets the new one as its override, so that after `rate all 30`
 * every cohort admits 30 a minute.
 */
export function withChange(overrides: OperatorOverrides, change: Change, target: { cohort: string } | { all: CohortConfig[] }): OperatorOverrides {
  const field = change.kind === "rate" ? "admitPerMinute" : "paused";
  const value = change.kind === "rate" ? change.perMinute : change.paused;
  const cohorts: Record<string, OperatorSetting> = structuredClone(overrides.cohorts);
  const set = (id: string) => (cohorts[id] = { ...cohorts[id], [field]: value });
  if ("cohort" in target) {
    set(target.cohort);
    return { ...overrides, cohorts };
  }
  for (const cohort of target.all) {
    if (cohort[field] !== undefined) set(cohort.id);
    else if (cohorts[cohort.id]) {
      const { [field]: _dropped, ...rest } = cohorts[cohort.id]!;
      if (Object.keys(rest).length === 0) delete cohorts[cohort.id];
      else cohorts[cohort.id] = rest;
    }
  }
  return { ...overrides, [field]: value, cohorts };
}

/** Where a binding's value came from, as `npm run ops -- status` names it. */
export const SOURCES = ["wrangler.toml", "npm start's local default", "environment", "ops override"] as const;
export type Source = (typeof SOURCES)[number];

/** What the running edge writes after it starts serving a set of bindings (IN_FORCE_FILE). */
export const inForce = z.object({
  pid: z.number().int(),
  port: z.number().int(),
  /** The overrides' revision (revisionOf) the edge serves with; "none" without a file. */
  revision: z.string(),
  /** The operator bindings before the overrides, and where each came from. */
  base: z.record(z.string(), z.object({ value: z.string(), source: z.enum(SOURCES) })),
  at: z.string(),
});
export type InForce = z.infer<typeof inForce>;

export function inForcePath(stateDir: string): string {
  return join(stateDir, IN_FORCE_FILE);
}

export function writeInForce(stateDir: string, record: InForce): void {
  const path = inForcePath(stateDir);
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(record, null, 2)}\n`);
  renameSync(temporary, path);
}

/** What a running edge last wrote, or undefined (no file, or an edge whose process is gone). */
export function readInForce(stateDir: string): InForce | undefined {
  try {
    const record = inForce.parse(JSON.parse(readFileSync(inForcePath(stateDir), "utf8")));
    process.kill(record.pid, 0);
    return record;
  } catch {
    return undefined;
  }
}

/** One cohort as it stands with the overrides: its rate, whether it is paused, and where each came from. */
export interface CohortInForce {
  cohort: CohortConfig;
  admitPerMinute: number;
  rateSource: Source;
  paused: boolean;
  pausedSource: Source;
}

/** Per cohort, what is in force once `overrides` are laid over `base`, and where each value comes from. */
export function cohortsInForce(base: InForce["base"], overrides: OperatorOverrides): CohortInForce[] {
  const value = (name: string) => base[name]?.value;
  const source = (name: string): Source => base[name]?.source ?? "wrangler.toml";
  return cohortsOf(value("COHORTS")).map((cohort) => {
    const own = overrides.cohorts[cohort.id] ?? {};
    const pick = <T>(field: "admitPerMinute" | "paused", binding: string, parse: (s: string) => T): { value: T; source: Source } => {
      if (own[field] !== undefined) return { value: own[field] as T, source: "ops override" };
      if (cohort[field] !== undefined) return { value: cohort[field] as T, source: source("COHORTS") };
      if (overrides[field] !== undefined) return { value: overrides[field] as T, source: "ops override" };
      return { value: parse(value(binding) ?? ""), source: source(binding) };
    };
    const rate = pick("admitPerMinute", "ADMIT_PER_MINUTE", Number);
    const paused = pick("paused", "PAUSED", (s) => ["true", "1", "yes"].includes(s.trim().toLowerCase()));
    return { cohort, admitPerMinute: rate.value, rateSource: rate.source, paused: paused.value, pausedSource: paused.source };
  });
}

/** A moment in Korea time, as citizens see it: `2026-12-05 21:30 KST`. */
export function koreaTime(iso: string): string {
  const parts = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Seoul", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).formatToParts(new Date(iso));
  const part = (type: string) => parts.find((p) => p.type === type)?.value ?? "";
  return `${part("year")}-${part("month")}-${part("day")} ${part("hour")}:${part("minute")} KST`;
}

/** One cohort's state in a line: `55-59: admitting 20/min`, `paused`, or `opens 2026-12-05 21:30 KST`. */
export function describeCohort(c: CohortInForce, now: number): string {
  const opens = Date.parse(c.cohort.opensAt);
  const state = c.paused ? "paused" : `admitting ${c.admitPerMinute}/min`;
  return now < opens ? `not open yet (opens ${koreaTime(c.cohort.opensAt)}); then ${state}` : state;
}
