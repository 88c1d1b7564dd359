/**
 * The stack as `npm start` runs it (`tsx scripts/start.ts`), on free ports with fresh state folders, and
 * the means to hurt it: its parts (origin, edge) are found among the processes it started, by command
 * line, and killed by their ids. Everything it prints is kept, so the suite can see what the stack said
 * about a fault (a restart, a stop).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../lib/inspector.js";
import { root } from "../lib/paths.js";
import { onCleanup, removeDir } from "../lib/processes.js";

const READY_LINE = "Waiting room ready";
const START_TIMEOUT_MS = 180_000;
/** Ctrl-C drains for a few seconds (issue 11); past this the stack is killed. */
const STOP_TIMEOUT_MS = 20_000;

export type Part = "origin" | "edge" | "workerd";

/**
 * How each part shows in `ps`: the origin's entry, the edge either through wrangler dev or
 * scripts/edge.ts/workerd, and the edge's workerd alone (under scripts/edge.ts, beside its Node front).
 */
const PART_COMMAND: Record<Part, RegExp> = {
  origin: /src\/origin\/node\.ts/,
  edge: /wrangler\S*\s+dev\b|wrangler-dist\/cli\.js|scripts\/edge\.ts|\bworkerd\b/,
  workerd: /\/workerd\s+serve\b/,
};
/** Parts killed by themselves, not with the process group they share with the rest of their part. */
const ALONE: ReadonlySet<Part> = new Set(["workerd"]);

export interface StackOptions {
  /** Environment for start.ts: edge bindings, origin variables (DATABASE_URL, DB_TIMEOUT_MS, ...). */
  env: Record<string, string>;
  /** Keep the state folder after stop (the caller reads the PGlite folder, then removes it). */
  keepState?: boolean;
}

export interface Stack {
  edge: string;
  origin: string;
  idp: string;
  /** The provider's mint secret this stack was started with (POST /dev/id-tokens needs it). */
  mintSecret: string;
  stateRoot: string;
  pgliteDir: string;
  output(): string;
  /** Whether start.ts is still running. */
  running(): boolean;
  /** Kills a part's processes (its process group and everything under it) with `signal`; returns the pids. */
  kill(part: Part, signal: NodeJS.Signals): number[];
  /** Ctrl-C, as an operator stops it; then SIGKILL for anything left after STOP_TIMEOUT_MS. */
  stop(): Promise<{ exitCode: number | null; forced: boolean }>;
}

interface Proc {
  pid: number;
  ppid: number;
  pgid: number;
  cmd: string;
}

function processes(): Proc[] {
  const list: Proc[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      // The command name is in parentheses and may hold spaces; the fields after it are fixed.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const cmd = readFileSync(`/proc/${name}/cmdline`, "utf8").replace(/\0/g, " ").trim();
      list.push({ pid: Number(name), ppid: Number(fields[1]), pgid: Number(fields[2]), cmd });
    } catch {
      // Gone while reading.
    }
  }
  return list;
}

/** Every process under `pid` (children, their children, ...). */
export function descendants(pid: number): Proc[] {
  const all = processes();
  const found: Proc[] = [];
  const frontier = [pid];
  while (frontier.length) {
    const parent = frontier.pop()!;
    for (const p of all) if (p.ppid === parent) {
      found.push(p);
      frontier.push(p.pid);
    }
  }
  return found;
}

function signalPid(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function startStack(options: StackOptions): Promise<Stack> {
  const [edgePort, originPort, idpPort, pushPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const stateRoot = mkdtempSync(join(tmpdir(), "waiting-room-faults-"));
  const edgeState = join(stateRoot, "edge-state");
  const pgliteDir = join(stateRoot, "pglite");
  mkdirSync(edgeState);
  const edge = `http://127.0.0.1:${edgePort}`;
  const origin = `http://127.0.0.1:${originPort}`;
  const idp = `http://127.0.0.1:${idpPort}`;
  // Handed to start.ts rather than read from the checkout's .dev.vars, which a suite must not depend on.
  const mintSecret = randomBytes(32).toString("base64url");

  // Its own process group, as a terminal's foreground job is: Ctrl-C (SIGINT to the group) is how an
  // operator stops it, and reaches npx, tsx and start.ts together.
  const child: ChildProcess = spawn(join(root, "node_modules/.bin/tsx"), ["scripts/start.ts"], {
    cwd: root,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      ...options.env,
      EDGE_PORT: String(edgePort),
      ORIGIN_PORT: String(originPort),
      IDP_PORT: String(idpPort),
      EDGE_STATE_DIR: edgeState,
      PGLITE_DIR: pgliteDir,
      IDP_STATE_DIR: join(stateRoot, "idp-state"),
      // A port of its own for each stack's push service, as for the other children.
      PUSH_SERVICE_PORT: String(pushPort),
      DEV_IDP_MINT_SECRET: mintSecret,
      NO_COLOR: "1",
    },
  });
  let log = "";
  child.stdout?.on("data", (chunk: Buffer) => (log += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (log += chunk.toString()));
  const running = () => child.exitCode === null && child.signalCode === null;
  // Remembered while running, so that even a Ctrl-C of the suite leaves no orphan behind.
  let known = new Set<number>();
  const remember = () => {
    if (child.pid !== undefined) for (const p of descendants(child.pid)) known.add(p.pid);
  };
  const tracker = setInterval(remember, 1_000);
  tracker.unref();

  const killAll = () => {
    remember();
    if (child.pid !== undefined) signalPid(-child.pid, "SIGKILL");
    for (const pid of known) signalPid(pid, "SIGKILL");
    known = new Set();
  };
  const unregister = onCleanup(() => {
    killAll();
    removeDir(stateRoot);
  });

  const stop = async (): Promise<{ exitCode: number | null; forced: boolean }> => {
    clearInterval(tracker);
    remember();
    let forced = false;
    if (running() && child.pid !== undefined) {
      const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      signalPid(-child.pid, "SIGINT");
      const timer = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), STOP_TIMEOUT_MS).unref());
      forced = (await Promise.race([gone, timer])) === "timeout";
    }
    // Parts still draining after start.ts is gone get the rest of the time; whatever is left then (a part
    // start.ts lost track of) is the suite's to end.
    const deadline = Date.now() + (forced ? 0 : STOP_TIMEOUT_MS);
    while (Date.now() < deadline && [...known].some((pid) => signalPid(pid, 0))) await sleep(200);
    const left = [...known].filter((pid) => signalPid(pid, 0));
    if (left.length) forced = true;
    killAll();
    const gone = Date.now() + 5_000;
    while (Date.now() < gone && left.some((pid) => signalPid(pid, 0))) await sleep(100);
    unregister();
    if (!options.keepState) removeDir(stateRoot);
    return { exitCode: child.exitCode, forced };
  };

  try {
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!log.includes(READY_LINE)) {
      if (!running()) throw new Error(`the stack exited while starting:\n${log.slice(-3000)}`);
      if (Date.now() > deadline) throw new Error(`the stack was not ready within ${START_TIMEOUT_MS / 1000} s:\n${log.slice(-3000)}`);
      await sleep(200);
    }
    remember();
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    edge,
    origin,
    idp,
    mintSecret,
    stateRoot,
    pgliteDir,
    output: () => log,
    running,
    kill(part, signal) {
      if (child.pid === undefined) return [];
      const tree = descendants(child.pid);
      const matching = tree.filter((p) => PART_COMMAND[part].test(p.cmd));
      // A part started in a group of its own (start.ts detaches its children) is killed as a group, so
      // tsx's node and workerd go with it; a part sharing start.ts's group is killed process by process.
      const targets = new Set<number>();
      for (const p of matching) {
        targets.add(p.pid);
        if (ALONE.has(part)) continue;
        if (p.pgid !== child.pid) for (const q of tree) if (q.pgid === p.pgid) targets.add(q.pid);
        for (const q of descendants(p.pid)) targets.add(q.pid);
      }
      for (const pid of targets) signalPid(pid, signal);
      return [...targets];
    },
    stop,
  };
}
