/**
 * `npx tsx scripts/fingerprint-page.ts`: builds the citizen's page in public/ from its readable sources
 * in page/. The stylesheet and each of the page's ES modules are written as /assets/<name>.<hash>.css|js,
 * named by a hash of their content, so a CDN may keep them for a year (public/_headers says `immutable`)
 * while index.html, which names them, stays short-lived. Nothing is minified or bundled: what is served
 * is what was written, plus the 17 regions taken from the one contract (src/contract/regions.ts), and
 * with each module's relative imports renamed to the hashed names.
 *
 * The modules are named leaves first: a module's hash covers its imports' hashed names, so a change in
 * any module renames it and every module that imports it, directly or not, up to the entry that
 * index.html names. An old index.html therefore keeps loading only old files, and a new one only new.
 *
 * The service worker (page/sw/sw.js) is copied as it is to public/sw.js: a browser looks for a new
 * version of a service worker at the URL it registered, so its name never changes, and the site's root
 * is where its scope covers the page.
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
/** The module index.html loads; the rest are reached through its imports. */
export const ENTRY = "app.js";
/** The service worker, served from the site's root under this name alone. */
export const WORKER = "sw.js";
/** Hashed outputs this script owns in public/assets; anything else there is left alone. */
const OWNED = /^[a-z][a-z0-9-]*\.[0-9a-f]{12}\.(js|css)$/;
const REGIONS_MARKER = "/* REGIONS */ []";
/**
 * A static import of a sibling module, one a line, as the page writes them: `import { a } from "./name.js";`.
 * JSDoc type imports (`import("./name.js").Type`) sit in comments and are neither served nor rewritten.
 */
const IMPORT = /^(import [^"\n]* from "\.\/)([a-z][a-z0-9-]*)\.js(";)$/gm;
/** Any other line that imports or re-exports by a relative path: refused, since it would not be renamed. */
const UNHANDLED = /^\s*(import|export)\b[^\n]*["']\.{1,2}\//m;

const hashed = (text: string) => createHash("sha256").update(text).digest("hex").slice(0, 12);

/**
 * The page's modules as served, by path relative to public/, leaves first (each after everything it
 * imports) and the entry last. Throws on an import cycle (no module could be named before the other) or
 * an import it cannot rename.
 */
function buildModules(pageDir: string): Map<string, string> {
  const built = new Map<string, string>();
  const servedAs = new Map<string, string>();
  let regionsWritten = 0;
  const visit = (name: string, importers: string[]): string => {
    const done = servedAs.get(name);
    if (done) return done;
    if (importers.includes(name)) throw new Error(`page/ has an import cycle: ${[...importers, name].join(" -> ")}`);
    let text = readFileSync(join(pageDir, `${name}.js`), "utf8");
    if (text.includes(REGIONS_MARKER)) {
      text = text.replace(REGIONS_MARKER, JSON.stringify(regions));
      regionsWritten += 1;
    }
    const left = UNHANDLED.exec(text.replace(IMPORT, ""));
    if (left) throw new Error(`page/${name}.js: write relative imports as \`import { … } from "./name.js";\` on one line, not: ${left[0].trim()}`);
    text = text.replace(IMPORT, (_, head: string, dep: string, tail: string) => `${head}${visit(dep, [...importers, name]).slice(ASSETS.length + 1)}${tail}`);
    const path = `${ASSETS}/${name}.${hashed(text)}.js`;
    servedAs.set(name, path);
    built.set(path, text);
    return path;
  };
  visit(ENTRY.replace(/\.js$/, ""), []);
  if (regionsWritten !== 1) throw new Error(`exactly one module of page/ must contain ${REGIONS_MARKER} (found ${regionsWritten})`);
  return built;
}

/** The files public/ should hold, by path relative to public/; `pageDir` is page/ unless a test says otherwise. */
export function buildPage(pageDir = join(root, "page")): Map<string, string> {
  const modules = buildModules(pageDir);
  const css = readFileSync(join(pageDir, "app.css"), "utf8");
  const cssPath = `${ASSETS}/app.${hashed(css)}.css`;
  const paths = [...modules.keys()];
  const entryPath = paths[paths.length - 1]!;
  // The browser finds a module's imports only once it has that module: preloading them all lets the
  // whole set come down at once instead of one level of imports per round trip.
  const preloads = paths.slice(0, -1).map((path) => `<link rel="modulepreload" href="/${path}">\n`).join("");

  let html = readFileSync(join(pageDir, "index.html"), "utf8");
  const links: Array<[string, string]> = [
    ['<link rel="stylesheet" href="app.css">', `<link rel="stylesheet" href="/${cssPath}">`],
    [`<script type="module" src="${ENTRY}"></script>`, `${preloads}<script type="module" src="/${entryPath}"></script>`],
  ];
  for (const [from, to] of links) {
    if (!html.includes(from)) throw new Error(`page/index.html must contain ${from}`);
    html = html.replace(from, to);
  }
  const worker = readFileSync(join(pageDir, "sw", WORKER), "utf8");
  return new Map([["index.html", html], ...modules, [cssPath, css], [WORKER, worker]]);
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
