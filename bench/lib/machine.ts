/** The machine a figure was measured on: cores, memory and the versions of everything in the path. */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus, release, totalmem, type } from "node:os";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { root } from "./paths.js";

export interface Machine {
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  os: string;
  node: string;
  workerd: string;
  miniflare: string;
  wrangler: string;
  autocannon: string;
  postgres: string;
  chromium: string;
}

function packageVersion(path: string): string {
  try {
    return (JSON.parse(readFileSync(join(root, path, "package.json"), "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

function output(command: string, args: string[]): string | undefined {
  try {
    return execFileSync(command, args, { encoding: "utf8", timeout: 10_000, stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return undefined;
  }
}

let cached: Machine | undefined;
/** Set by the origin suite from `select version()` when psql is not installed. */
let postgresFromServer: string | undefined;

export function notePostgresVersion(version: string): void {
  postgresFromServer = version;
  if (cached) cached.postgres = version;
}

export function machine(): Machine {
  if (cached) return cached;
  // The workerd that Miniflare (wrangler's version, scripts/miniflare.ts) runs, wherever npm placed it.
  const workerdPackage = relative(root, dirname(createRequire(join(root, "node_modules/miniflare/package.json")).resolve("workerd/package.json")));
  const workerdBinary = join(root, workerdPackage, "bin/workerd");
  const workerdDate = output(workerdBinary, ["--version"])?.replace(/^workerd\s+/, "");
  const psql = output("psql", ["-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-XAtc", "show server_version"]);
  const chromium = output("/usr/bin/chromium", ["--version"])?.replace(/^Chromium\s+/, "");
  cached = {
    cores: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? "unknown",
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: `${type()} ${release()}`,
    node: process.versions.node,
    workerd: `${packageVersion(workerdPackage)}${workerdDate ? ` (${workerdDate})` : ""}`,
    miniflare: packageVersion("node_modules/miniflare"),
    wrangler: packageVersion("node_modules/wrangler"),
    autocannon: packageVersion("node_modules/autocannon"),
    postgres: postgresFromServer ?? psql ?? "not measured",
    chromium: chromium ?? "not installed",
  };
  return cached;
}
