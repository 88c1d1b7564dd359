/**
 * The operator bindings `npm start` gives the edge before any `npm run ops` override, and where each comes
 * from: wrangler.toml's [vars], then `npm start`'s local defaults (a slower line and the demo cohorts), then
 * the environment. scripts/start.ts starts the edge with them; scripts/ops.ts reads them when no edge runs.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseToml } from "smol-toml";
import { z } from "zod";
import { cohortsBinding } from "./cohorts.js";
import { OPERATOR_BINDINGS, type InForce, type Source } from "./operator-overrides.js";

const root = fileURLToPath(new URL("..", import.meta.url));

/** wrangler.toml's [vars], as strings. */
export function wranglerVars(): Record<string, string> {
  const toml = parseToml(readFileSync(join(root, "wrangler.toml"), "utf8")) as { vars?: Record<string, unknown> };
  return Object.fromEntries(Object.entries(toml.vars ?? {}).map(([k, v]) => [k, String(v)]));
}

/** Where the demo cohorts' openings are kept, so a restart of `npm start` does not move them. */
export const DEMO_OPENINGS_FILE = "demo-openings.json";
const demoOpenings = z.object({ opened: z.iso.datetime({ offset: true }), later: z.iso.datetime({ offset: true }) });

/**
 * Local demo cohorts: two open, one opening later, so every page state can be seen. The openings are chosen
 * at the first start (an hour ago, and the next whole minute half an hour on) and kept in the edge's state
 * folder: citizens who joined the pre-registration of the later one, or wait in an open one, find the same
 * line after a restart. A fresh state folder (or deleting the file) chooses again.
 */
export function demoCohorts(stateDir: string, now: Date): string {
  const path = join(stateDir, DEMO_OPENINGS_FILE);
  let kept: z.infer<typeof demoOpenings> | undefined;
  if (existsSync(path)) {
    try {
      kept = demoOpenings.parse(JSON.parse(readFileSync(path, "utf8")));
    } catch {
      kept = undefined;
    }
  }
  if (!kept) {
    kept = {
      opened: new Date(now.getTime() - 60 * 60_000).toISOString(),
      later: new Date(Math.ceil((now.getTime() + 30 * 60_000) / 60_000) * 60_000).toISOString(),
    };
    mkdirSync(stateDir, { recursive: true });
    writeFileSync(path, `${JSON.stringify(kept, null, 2)}\n`);
  }
  return cohortsBinding(["55-59", "53-54", "50-52"], { "55-59": kept.opened, "53-54": kept.opened, "50-52": kept.later });
}

/** `npm start`'s operator defaults that differ from wrangler.toml: slow enough that a person sees the line move. */
export function localOperatorDefaults(stateDir: string): Record<string, string> {
  return { ADMIT_PER_MINUTE: "20", MAX_ACTIVE: "40", COHORTS: demoCohorts(stateDir, new Date()) };
}

/** Each operator binding's value and source: the environment over `npm start`'s defaults over wrangler.toml. */
export function operatorBase(toml: Record<string, string>, defaults: Record<string, string>, env: Record<string, string | undefined>): InForce["base"] {
  const base: InForce["base"] = {};
  for (const name of OPERATOR_BINDINGS) {
    const [value, source]: [string | undefined, Source] =
      env[name] !== undefined ? [env[name], "environment"] : defaults[name] !== undefined ? [defaults[name], "npm start's local default"] : [toml[name], "wrangler.toml"];
    if (value !== undefined) base[name] = { value, source };
  }
  return base;
}
