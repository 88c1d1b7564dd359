/**
 * `npx tsx scripts/fingerprint-page.ts`: builds the citizen's page in public/ from its readable sources
 * in page/. The script and the stylesheet are written as /assets/app.<hash>.js|css, named by a hash of
 * their content, so a CDN may keep them for a year (public/_headers says `immutable`) while index.html,
 * which names them, stays short-lived. Nothing is minified: what is served is what was written, plus the
 * 17 regions taken from the one contract (src/contract/regions.ts).
 *
 * `--check` writes nothing and exits 1 if public/ does not match the sources (test/browser checks this).
 */
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { regions } from "../src/contract/regions.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const ASSETS = "assets";
/** Hashed outputs this script owns in public/assets; anything else there is left alone. */
const OWNED = /^app\.[0-9a-f]{12}\.(js|css)$/;
const REGIONS_MARKER = "/* REGIONS */ []";

/** The files public/ should hold, by path relative to public/. */
export function buildPage(): Map<string, string> {
  const source = (name: string) => readFileSync(join(root, "page", name), "utf8");
  const script = source("app.js");
  if (!script.includes(REGIONS_MARKER)) throw new Error(`page/app.js must contain ${REGIONS_MARKER}`);
  const js = script.replace(REGIONS_MARKER, JSON.stringify(regions));
  const css = source("app.css");
  const named = (text: string, ext: string) => `${ASSETS}/app.${createHash("sha256").update(text).digest("hex").slice(0, 12)}.${ext}`;
  const jsPath = named(js, "js");
  const cssPath = named(css, "css");

  let html = source("index.html");
  for (const [from, to] of [['href="app.css"', `href="/${cssPath}"`], ['src="app.js"', `src="/${jsPath}"`]] as const) {
    if (!html.includes(from)) throw new Error(`page/index.html must reference ${from}`);
    html = html.replace(from, to);
  }
  return new Map([["index.html", html], [jsPath, js], [cssPath, css]]);
}

/** Differences between public/ and the sources, as human-readable lines; empty when up to date. */
export function pageDrift(publicDir = join(root, "public")): string[] {
  const expected = buildPage();
  const problems: string[] = [];
  for (const [path, text] of expected) {
    let actual: string | undefined;
    try {
      actual = readFileSync(join(publicDir, path), "utf8");
    } catch {
      actual = undefined;
    }
    if (actual === undefined) problems.push(`missing public/${path}`);
    else if (actual !== text) problems.push(`public/${path} differs from what page/ builds`);
  }
  for (const name of ownedAssets(publicDir)) {
    if (!expected.has(`${ASSETS}/${name}`)) problems.push(`stale public/${ASSETS}/${name}`);
  }
  return problems;
}

function ownedAssets(publicDir: string): string[] {
  try {
    return readdirSync(join(publicDir, ASSETS)).filter((name) => OWNED.test(name));
  } catch {
    return [];
  }
}

function write(publicDir = join(root, "public")): void {
  const files = buildPage();
  mkdirSync(join(publicDir, ASSETS), { recursive: true });
  for (const name of ownedAssets(publicDir)) {
    if (!files.has(`${ASSETS}/${name}`)) rmSync(join(publicDir, ASSETS, name));
  }
  for (const [path, text] of files) {
    writeFileSync(join(publicDir, path), text);
    console.log(`public/${path}  ${Buffer.byteLength(text)} bytes`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.argv.includes("--check")) {
    const problems = pageDrift();
    for (const line of problems) console.error(line);
    if (problems.length > 0) {
      console.error("public/ is out of date: run `npx tsx scripts/fingerprint-page.ts`");
      process.exit(1);
    }
    console.log("public/ is up to date with page/");
  } else {
    write();
  }
}
