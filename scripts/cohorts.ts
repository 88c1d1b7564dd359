/**
 * The 2021 cohorts, written once for everything that is not configuration: `npm start`'s demo line, the
 * tests' COHORTS bindings and the flash-crowd replay. wrangler.toml keeps its own list, because it is the
 * deployed configuration and not code. Facts from ../shared/data/korea-2021.json (sizes as reported in the
 * press; ages are Korean "man" ages in 2021).
 */
import type { CohortConfig } from "../src/edge/config.js";

type Cohort2021 = Omit<CohortConfig, "id"> & { people: number };

export const COHORTS_2021 = {
  "55-59": { label: { ko: "만 55~59세", en: "Ages 55-59" }, birthYears: [1962, 1966], people: 3_520_000, opensAt: "2021-07-12T20:00:00+09:00" },
  "53-54": { label: { ko: "만 53~54세", en: "Ages 53-54" }, birthYears: [1967, 1968], people: 1_540_000, opensAt: "2021-07-19T20:00:00+09:00" },
  "50-52": { label: { ko: "만 50~52세", en: "Ages 50-52" }, birthYears: [1969, 1971], people: 2_360_000, opensAt: "2021-07-20T20:00:00+09:00" },
} as const satisfies Record<string, Cohort2021>;

export type CohortId = keyof typeof COHORTS_2021;

/** An opening that has not come, for a cohort that must stay closed for as long as these tests live. */
export const NOT_OPEN_YET = "2099-07-20T20:00:00+09:00";

/**
 * The edge's COHORTS binding (JSON, as wrangler.toml writes it) listing `ids` in that order, each opening
 * at its 2021 time (long past, so open) unless `opensAt` moves it.
 */
export function cohortsBinding(ids: readonly CohortId[], opensAt: Partial<Record<CohortId, string>> = {}): string {
  const cohorts: CohortConfig[] = ids.map((id) => {
    const { label, birthYears } = COHORTS_2021[id];
    return { id, label, birthYears: [birthYears[0], birthYears[1]], opensAt: opensAt[id] ?? COHORTS_2021[id].opensAt };
  });
  return JSON.stringify(cohorts);
}
