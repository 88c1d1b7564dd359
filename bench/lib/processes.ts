/**
 * Child processes of a bench run (load generators, the origin, its baseline): each is started in its own
 * process group, remembered, and ended by its id when it is done, when the run fails, or when the bench
 * is interrupted. Temporary folders are removed the same way.
 */
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { rmSync } from "node:fs";

const children = new Set<ChildProcess>();
const cleanups = new Set<() => void | Promise<void>>();

/** Starts a child in its own process group so that `stop` ends whatever it started too. */
export function startChild(command: string, args: string[], options: SpawnOptions = {}): ChildProcess {
  const child = spawn(command, args, { ...options, detached: true });
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

/** Ends a child (and its group) by id: SIGTERM, then SIGKILL if it has not gone within `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 3_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  signal(child, "SIGTERM");
  const timer = setTimeout(() => signal(child, "SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

function signal(child: ChildProcess, name: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, name);
  } catch {
    child.kill(name);
  }
}

/** Registers something to undo if the run is interrupted; returns the function that unregisters it. */
export function onCleanup(fn: () => void | Promise<void>): () => void {
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

/** Removes a temporary folder now and forgets it. */
export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Ends every child still running and runs every registered cleanup; for the end of a run or Ctrl-C. */
export async function cleanupAll(): Promise<void> {
  for (const child of [...children]) signal(child, "SIGKILL");
  for (const fn of [...cleanups]) {
    try {
      await fn();
    } catch (err) {
      console.error("cleanup failed:", err);
    }
  }
  cleanups.clear();
}
