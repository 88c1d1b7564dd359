/**
 * public/ is built from page/ by scripts/fingerprint-page.ts; a change to the sources that was not built
 * would ship the old page. And the page's plain JS is type-checked against the contract's types.
 */
import { execFile } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { buildPage, ENTRY, pageDrift, WORKER } from "../../scripts/fingerprint-page.js";
import { regions } from "../../src/contract/regions.js";
import { root } from "./support/stack.js";

describe("the page in public/", () => {
  it("is up to date with its sources in page/ (run `npx tsx scripts/fingerprint-page.ts`)", () => {
    expect(pageDrift()).toEqual([]);
  });

  it("names its stylesheet and every module by content hash, preloads them, and carries the contract's 17 regions", () => {
    const files = buildPage();
    const html = files.get("index.html") ?? "";
    const css = [...files.keys()].filter((path) => path.endsWith(".css"));
    const modules = [...files.keys()].filter((path) => path.startsWith("assets/") && path.endsWith(".js"));
    expect(css).toEqual([expect.stringMatching(/^assets\/app\.[0-9a-f]{12}\.css$/)]);
    expect(html).toContain(`<link rel="stylesheet" href="/${css[0]}">`);
    // One served module per module in page/, each under its own name.
    const sources = readdirSync(join(root, "page")).filter((name) => name.endsWith(".js"));
    expect(modules.map((path) => /^assets\/([a-z-]+)\.[0-9a-f]{12}\.js$/.exec(path)?.[1] + ".js").sort()).toEqual(sources.sort());
    // index.html starts the entry as a module and preloads the rest, so none waits for its importer.
    const entry = modules.find((path) => path.startsWith(`assets/${ENTRY.replace(/\.js$/, "")}.`));
    expect(html).toContain(`<script type="module" src="/${entry}"></script>`);
    for (const path of modules.filter((p) => p !== entry)) expect(html).toContain(`<link rel="modulepreload" href="/${path}">`);
    // Every relative import names a file that is served beside it.
    for (const path of modules) {
      const imports = [...(files.get(path) ?? "").matchAll(/^import [^"\n]* from "\.\/([^"]+)";$/gm)].map((m) => `assets/${m[1]}`);
      for (const imported of imports) expect(modules, `${path} imports ${imported}`).toContain(imported);
    }
    const withRegions = modules.filter((path) => files.get(path)?.includes(JSON.stringify(regions)));
    expect(withRegions).toHaveLength(1);
    // The cache rules for those names live beside them.
    const headers = readFileSync(join(root, "public", "_headers"), "utf8");
    expect(headers).toMatch(/\/assets\/\*\n\s+Cache-Control: public, max-age=31536000, immutable/);
  });

  it("serves the service worker at the root under its own name, never cached without asking again", () => {
    const files = buildPage();
    expect(files.get(WORKER)).toBe(readFileSync(join(root, "page", "sw", WORKER), "utf8"));
    expect([...files.keys()].filter((path) => path.includes("sw"))).toEqual([WORKER]);
    const headers = readFileSync(join(root, "public", "_headers"), "utf8");
    expect(headers).toMatch(/^\/sw\.js\n\s+Cache-Control: no-cache\n/m);
  });

  it("renames a changed module and every module that imports it, up to the entry, and no other", () => {
    const copy = mkdtempSync(join(tmpdir(), "page-"));
    try {
      cpSync(join(root, "page"), copy, { recursive: true });
      const names = (files: Map<string, string>) =>
        new Map([...files.keys()].filter((p) => p.endsWith(".js")).map((p) => [p.replace(/\.[0-9a-f]{12}\.js$/, ""), p]));
      const before = names(buildPage(copy));
      // api.js is imported by flow.js and notify.js, notify.js by flow.js and the entry, flow.js by the entry alone.
      writeFileSync(join(copy, "api.js"), `${readFileSync(join(copy, "api.js"), "utf8")}\n// changed\n`);
      const after = names(buildPage(copy));
      const renamed = [...before.keys()].filter((name) => before.get(name) !== after.get(name)).sort();
      expect(renamed).toEqual(["assets/api", "assets/app", "assets/flow", "assets/notify"]);
      // And --check notices public/ drifting from page/: a hand-edited module, a leftover old name.
      const built = join(copy, "public");
      for (const [path, text] of buildPage()) {
        mkdirSync(dirname(join(built, path)), { recursive: true });
        writeFileSync(join(built, path), text);
      }
      expect(pageDrift(built)).toEqual([]);
      const flow = [...buildPage().keys()].find((p) => p.startsWith("assets/flow."))!;
      writeFileSync(join(built, flow), "// edited by hand\n");
      writeFileSync(join(built, "assets", "flow.000000000000.js"), "");
      expect(pageDrift(built)).toEqual([`public/${flow} differs from what page/ builds`, "stale public/assets/flow.000000000000.js"]);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });

  it.each(["page", "page/sw"])("type-checks the page's modules against the contract, and the service worker in a worker's scope (tsc -p %s)", async (project) => {
    const tsc = join(root, "node_modules", ".bin", "tsc");
    const result = await promisify(execFile)(tsc, ["-p", join(root, project)], { cwd: root }).then(
      () => "",
      (err: { stdout?: string; stderr?: string }) => `${err.stdout ?? ""}${err.stderr ?? ""}` || String(err),
    );
    expect(result).toBe("");
  }, 60_000);
});
