/** axe (the engine behind most accessibility audits), as the browser tests run it. */
import AxeBuilder from "@axe-core/playwright";
import type { Page } from "playwright-core";

/** The success criteria of WCAG 2.0, 2.1 and 2.2 at levels A and AA, as axe tags its rules. */
const WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"];

/** axe's WCAG A/AA violations on the page as it is now, one line each: rule, impact, what it said, where. */
export async function violations(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).withTags(WCAG_AA).analyze();
  return results.violations.flatMap((v) => v.nodes.map((n) => `${v.id} (${v.impact}): ${v.help}: ${n.target.join(" ")}: ${n.failureSummary ?? ""}`));
}
