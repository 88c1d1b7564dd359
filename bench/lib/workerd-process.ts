/**
 * Looking at the workerd process from outside, as the kernel counts it: its CPU time (user + system,
 * every thread, from /proc/<pid>/stat) and the fsync/fdatasync calls it makes (strace -c, where strace
 * is installed). Both are read around a measured load, so a figure is a difference of two readings.
 */
import { execFileSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { removeDir, startChild, stopChild } from "./processes.js";

/** Clock ticks per second of /proc/<pid>/stat's utime and stime. */
const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/**
 * /proc/<pid>/stat read once: the command name (what /proc/<pid>/comm holds, between the first "(" and the
 * last ")", since it may itself contain spaces or brackets) and the fields after it; `pid` may also name
 * one thread, as `<pid>/task/<tid>`.
 */
function readStat(pid: number | string): { name: string; fields: string[] } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    const close = text.lastIndexOf(")");
    return { name: text.slice(text.indexOf("(") + 1, close), fields: text.slice(close + 2).split(" ") };
  } catch {
    return undefined;
  }
}

/**
 * A process as /proc/<pid>/stat shows it: its command name, its parent, when it started (clock ticks since
 * boot), its CPU.
 */
interface ProcessStat {
  name: string;
  parent: number;
  started: number;
  cpuSeconds: number;
}

/** stat's fields after the name: state (0), ppid (1), ..., utime (11), stime (12), ..., starttime (19). */
function processStat({ name, fields }: { name: string; fields: string[] }): ProcessStat {
  return { name, parent: Number(fields[1]), started: Number(fields[19]), cpuSeconds: (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS };
}

/** Every process now running, each read once. */
function processes(): Map<number, ProcessStat> {
  const all = new Map<number, ProcessStat>();
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const stat = readStat(pid);
    if (stat) all.set(pid, processStat(stat));
  }
  return all;
}

/** Whether `pid` is one of `ancestors` or descends from one of them. */
function inTree(all: Map<number, ProcessStat>, pid: number, ancestors: ReadonlySet<number>): boolean {
  for (let p: number | undefined = pid; p !== undefined && p > 1; p = all.get(p)?.parent) if (ancestors.has(p)) return true;
  return false;
}

/**
 * The workerd process started by this bench process (Miniflare spawns it as a child; a bench process runs
 * one edge at a time). Found by walking /proc for descendants of this process named `workerd`; the most
 * recently started one if there are several.
 */
export function workerdPid(): number | undefined {
  const all = processes();
  const me = new Set([process.pid]);
  const found = [...all.keys()].filter((pid) => pid !== process.pid && all.get(pid)!.name === "workerd" && inTree(all, pid, me));
  return found.sort((a, b) => all.get(b)!.started - all.get(a)!.started)[0];
}

/** CPU seconds (user + system, all threads) the process has used so far. */
export function cpuSeconds(pid: number): number {
  return cpuSecondsAt(pid, pid);
}

/** The CPU seconds (user + system) of a process's main thread alone: the task whose id is the process's. */
export function mainThreadCpuSeconds(pid: number): number {
  return cpuSecondsAt(`${pid}/task/${pid}`, pid);
}

/** The CPU seconds of /proc/`at`/stat, a process or one of its threads; throws when process `pid` is gone. */
function cpuSecondsAt(at: number | string, pid: number): number {
  const stat = readStat(at);
  if (!stat) throw new Error(`process ${pid} is gone`);
  return processStat(stat).cpuSeconds;
}

/**
 * CPU seconds used so far by each given process and every live descendant of it, summed (a process tree
 * such as `next start` and the server it spawns). Counted once each where the trees overlap; a given
 * process that is gone throws, as `cpuSeconds` does, since its figure would silently drop it.
 */
export function treeCpuSeconds(roots: readonly number[]): number {
  const all = processes();
  for (const root of roots) if (!all.has(root)) throw new Error(`process ${root} is gone`);
  const wanted = new Set(roots);
  let total = 0;
  for (const [pid, stat] of all) if (inTree(all, pid, wanted)) total += stat.cpuSeconds;
  return total;
}

/**
 * CPU seconds used so far by each live process of the given command name (as /proc/<pid>/comm has it), by pid: a
 * server made of many processes, such as PostgreSQL's postmaster, backends and background workers. Read
 * twice around a load and passed to `cpuSecondsSince`.
 */
export function cpuSecondsByName(name: string): Map<number, number> {
  const found = new Map<number, number>();
  for (const [pid, stat] of processes()) if (stat.name === name) found.set(pid, stat.cpuSeconds);
  return found;
}

/**
 * The CPU seconds the processes of `after` used since `before` was read: a process started in between
 * counts whole; one that exited in between is not in `after` and its last share is lost (PostgreSQL keeps
 * its pool's backends, so over a load that is only a backend ending early).
 */
export function cpuSecondsSince(before: ReadonlyMap<number, number>, after: ReadonlyMap<number, number>): number {
  let total = 0;
  for (const [pid, seconds] of after) total += seconds - (before.get(pid) ?? 0);
  return total;
}

/** Whether `strace` can be run here (installed; attaching may still be refused, which `traceSyncs` reports). */
export function straceAvailable(): boolean {
  try {
    execFileSync("strace", ["-V"], { stdio: "ignore", timeout: 5_000 });
    return true;
  } catch {
    return false;
  }
}

export interface SyncTrace {
  /** Stops tracing and returns the calls counted, or why nothing was measured. */
  stop(): Promise<{ fsync: number; fdatasync: number } | { notMeasured: string }>;
}

/** Counts fsync and fdatasync of every thread of `pid` (strace -c -f) until `stop`. */
export async function traceSyncs(pid: number): Promise<SyncTrace | { notMeasured: string }> {
  if (!straceAvailable()) return { notMeasured: "strace is not installed" };
  const dir = mkdtempSync(join(tmpdir(), "bench-strace-"));
  const out = join(dir, "summary.txt");
  const child: ChildProcess = startChild("strace", ["-c", "-f", "-e", "trace=fsync,fdatasync", "-o", out, "-p", String(pid)], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  // Attached once strace says so for the process (it then attaches every thread); refused otherwise.
  const attached = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 5_000);
    const check = () => {
      if (/attached/.test(stderr)) {
        clearTimeout(timer);
        setTimeout(() => resolve(true), 300);
      }
    };
    child.stderr?.on("data", check);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
  if (!attached) {
    await stopChild(child);
    removeDir(dir);
    return { notMeasured: `strace could not attach: ${stderr.trim().split("\n").pop() ?? "no output"}` };
  }
  return {
    async stop() {
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      // SIGINT makes strace detach and write its summary.
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, "SIGINT");
      const timer = setTimeout(() => void stopChild(child), 10_000);
      await exited;
      clearTimeout(timer);
      try {
        const text = readFileSync(out, "utf8");
        const calls = (name: string) => {
          const line = text.split("\n").find((l) => l.trim().split(/\s+/).at(-1) === name);
          // % time, seconds, usecs/call, calls, [errors], syscall
          return line ? Number(line.trim().split(/\s+/)[3]) : 0;
        };
        return { fsync: calls("fsync"), fdatasync: calls("fdatasync") };
      } catch (err) {
        return { notMeasured: `strace wrote no summary (${String(err)})` };
      } finally {
        removeDir(dir);
      }
    },
  };
}
