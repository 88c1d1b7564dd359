/**
 * The one place the browser tests and the bench pick and launch a Chromium. A system Chromium is
 * preferred when there is one (Debian's `chromium`, which `.ci/run` installs); on a machine without one,
 * the Chromium that npm installed with `@sparticuz/chromium` (shipped brotli-compressed inside the package)
 * is unpacked once and launched instead, so `npm install` then `npm test` is all a fresh machine needs.
 *
 * `BROWSER=bundled` forces the npm-installed one even where a system Chromium exists (to prove it works
 * without uninstalling anything), `BROWSER=system` refuses to fall back, and `CHROMIUM_PATH` names a
 * binary outright.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { brotliDecompressSync } from "node:zlib";
import { chromium, type Browser, type LaunchOptions } from "playwright-core";
import { z } from "zod";

/** Where Debian (and most distributions) put a system Chromium. */
const SYSTEM_CHROMIUM = "/usr/bin/chromium";

/**
 * Headless, no sandbox (the tests run as root in CI), and nothing that would reach off the machine
 * (component updates, sync, background fetches). Playwright gives every launch a fresh, temporary
 * user-data dir of its own, so no run sees another's cache or cookies. The bundled Chromium's own
 * `Chromium.args` are not used: they are for AWS Lambda (`--single-process`, `--disable-web-security`)
 * and would make the browser under test less like a citizen's.
 */
export const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];

export interface ChosenBrowser {
  executablePath: string;
  /** Environment the browser needs beyond ours (the bundled one's shared libraries). */
  env?: Record<string, string>;
  /** Which one was picked, for messages and the bench's report. */
  source: "CHROMIUM_PATH" | "system" | "bundled";
}

/** The Chromium this machine will run the tests with (see the module comment for the order). */
export async function chooseBrowser(): Promise<ChosenBrowser> {
  const named = process.env.CHROMIUM_PATH;
  if (named) return { executablePath: named, source: "CHROMIUM_PATH" };
  const wanted = process.env.BROWSER ?? "";
  if (!["", "system", "bundled"].includes(wanted)) throw new Error(`BROWSER must be "system" or "bundled" (or unset), not "${wanted}"`);
  if (wanted !== "bundled" && existsSync(SYSTEM_CHROMIUM)) return { executablePath: SYSTEM_CHROMIUM, source: "system" };
  if (wanted === "system") throw new Error(`BROWSER=system, but there is no ${SYSTEM_CHROMIUM} (apt-get install -y chromium)`);
  const executablePath = bundledChromium();
  // NSS, NSPR and expat, which the bundled binary links against and a machine without any Chromium may
  // lack, come with it (built for Amazon Linux 2023, glibc 2.34; they depend on nothing but libc). They
  // are always used with it, so the configuration BROWSER=bundled tests here is the one a bare machine gets.
  const libs = join(dirname(executablePath), "lib");
  return { executablePath, source: "bundled", env: { LD_LIBRARY_PATH: [libs, process.env.LD_LIBRARY_PATH].filter(Boolean).join(":") } };
}

/** Launches `chosen` (by default, the one `chooseBrowser` picks), headless, with the project's flags. */
export async function launchChromium(options: Pick<LaunchOptions, "timeout"> = {}, chosen?: ChosenBrowser): Promise<Browser> {
  const { executablePath, env } = chosen ?? (await chooseBrowser());
  return chromium.launch({ ...options, executablePath, args: CHROMIUM_ARGS, ...(env ? { env: { ...process.env, ...env } } : {}) });
}

/**
 * The npm-installed Chromium, unpacked into a folder named by its package version. `executablePath()`
 * unpacks into `os.tmpdir()` itself, keyed by nothing but the name `chromium`: two test files starting at
 * once would each see the other's half-written binary, and another version's binary would be taken as
 * this one. So it unpacks in a child process whose TMPDIR is a private staging folder, which is then
 * renamed into place; a rename that loses the race leaves the winner's complete copy.
 */
function bundledChromium(): string {
  // The package exports only its entry (build/cjs/index.cjs), not its package.json: read that by path.
  const packageDir = join(dirname(createRequire(import.meta.url).resolve("@sparticuz/chromium")), "../..");
  const version = z.object({ version: z.string() }).parse(JSON.parse(readFileSync(join(packageDir, "package.json"), "utf8"))).version;
  const home = join(tmpdir(), `waiting-room-chromium-${version}`);
  const binary = join(home, "chromium");
  if (existsSync(binary)) return binary;
  const staging = mkdtempSync(join(tmpdir(), "waiting-room-chromium-unpacking-"));
  try {
    const script = `import("@sparticuz/chromium").then((m) => m.default.executablePath()).then((p) => process.stdout.write(p))`;
    const unpacked = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
      cwd: packageDir,
      env: { ...process.env, TMPDIR: staging },
      encoding: "utf8",
      timeout: 120_000,
    });
    if (unpacked !== join(staging, "chromium")) throw new Error(`@sparticuz/chromium unpacked to ${unpacked}, not into ${staging}`);
    // executablePath() unpacks these libraries only on Amazon Linux; here they are unpacked everywhere.
    execFileSync("tar", ["-x", "-C", staging], { input: brotliDecompressSync(readFileSync(join(packageDir, "bin", "al2023.tar.br"))) });
    try {
      renameSync(staging, home);
    } catch (err) {
      if (!existsSync(binary)) throw err;
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return binary;
}
