/** The machine a figure was measured on: its CPU, cores, memory and the versions of everything in the path. */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus, release, totalmem, type } from "node:os";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { root } from "./paths.js";

/**
 * The CPU as /proc/cpuinfo names it. A hypervisor may give several generations one masked model name
 * ("AMD EPYC"), so the vendor's family, model and stepping numbers, which it passes through, are kept too.
 */
export interface Cpu {
  modelName: string;
  vendor: string;
  family: number;
  model: number;
  stepping: number;
}

export interface Machine {
  cores: number;
  /** Node's name for the CPU (os.cpus()); the only name older results have. */
  cpuModel: string;
  /** Absent in results written before it was recorded, and where /proc/cpuinfo is not there to read. */
  cpu?: Cpu;
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

/** The first processor's entry of /proc/cpuinfo; undefined where it cannot be read or lacks a field. */
export function readCpu(cpuinfo = "/proc/cpuinfo"): Cpu | undefined {
  let text: string;
  try {
    text = readFileSync(cpuinfo, "utf8");
  } catch {
    return undefined;
  }
  const first = text.split(/\n\s*\n/)[0]!;
  const field = (name: string) => new RegExp(`^${name}\\s*:\\s*(.*)$`, "m").exec(first)?.[1]?.trim();
  const [modelName, vendor, family, model, stepping] = ["model name", "vendor_id", "cpu family", "model", "stepping"].map(field);
  if (!modelName || !vendor || family === undefined || model === undefined || stepping === undefined) return undefined;
  const numbers = [family, model, stepping].map(Number);
  if (numbers.some((n) => !Number.isInteger(n))) return undefined;
  return { modelName, vendor, family: numbers[0]!, model: numbers[1]!, stepping: numbers[2]! };
}

/** The CPU model a figure was measured on, as one name ("AMD EPYC, AuthenticAMD family 25 model 1 stepping 1"); undefined when not recorded. */
export function cpuName(m: Pick<Machine, "cpu">): string | undefined {
  const c = m.cpu;
  return c ? `${c.modelName}, ${c.vendor} family ${c.family} model ${c.model} stepping ${c.stepping}` : undefined;
}

/**
 * The CPU models results were measured on, each with the results (by label) measured on it; results
 * without a recorded model are left out. More than one model means their figures do not compare.
 */
export function cpuModels(results: Array<{ label: string; machine: Pick<Machine, "cpu"> }>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const { label, machine } of results) {
    const cpu = cpuName(machine);
    if (cpu !== undefined) out.set(cpu, [...(out.get(cpu) ?? []), label]);
  }
  return out;
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
  const cpu = readCpu();
  cached = {
    cores: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? "unknown",
    ...(cpu ? { cpu } : {}),
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
