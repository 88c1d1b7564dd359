/**
 * public/ is built from page/ by scripts/fingerprint-page.ts; a change to the sources that was not built
 * would ship the old page. And the page's plain JS is type-checked against the contract's types.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { buildPage, pageDrift } from "../../scripts/fingerprint-page.js";
import { regions } from "../../src/contract/regions.js";
import { root } from "./support/stack.js";

describe("the page in public/", () => {
  it("is up to date with its sources in page/ (run `npx tsx scripts/fingerprint-page.ts`)", () => {
    expect(pageDrift()).toEqual([]);
  });

  it("names its script and stylesheet by content hash, and carries the contract's 17 regions", () => {
    const files = buildPage();
    const html = files.get("index.html") ?? "";
    const assets = [...files.keys()].filter((path) => path !== "index.html");
    expect(assets).toHaveLength(2);
    for (const path of assets) {
      expect(path).toMatch(/^assets\/app\.[0-9a-f]{12}\.(js|css)$/);
      expect(html).toContain(`"/${path}"`);
    }
    const script = files.get(assets.find((p) => p.endsWith(".js"))!) ?? "";
    expect(script).toContain(JSON.stringify(regions));
    // The cache rules for those names live beside them.
    const headers = readFileSync(join(root, "public", "_headers"), "utf8");
    expect(headers).toMatch(/\/assets\/\*\n\s+Cache-Control: public, max-age=31536000, immutable/);
  });

  it("type-checks page/app.js against the contract (tsc -p page)", async () => {
    const tsc = join(root, "node_modules", ".bin", "tsc");
    const result = await promisify(execFile)(tsc, ["-p", join(root, "page")], { cwd: root }).then(
      () => "",
      (err: { stdout?: string; stderr?: string }) => `${err.stdout ?? ""}${err.stderr ?? ""}` || String(err),
    );
    expect(result).toBe("");
  }, 60_000);
});
