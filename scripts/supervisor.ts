/**
 * Keeps `npm start`'s children serving: each runs in a process group of its own, is restarted with
 * exponential backoff when it dies (the others keep serving meanwhile), and is stopped by draining.
 * What a first start that fails means is left to the caller (scripts/start.ts stops everything: a port
 * taken or a bad binding does not mend itself, and a restart loop would hide it).
 */
import { spawn, type ChildProcess } from "node:child_process";

export interface ChildSpec {
  /** What the console calls it: "origin", "identity provider", "edge". */
  name: string;
  /** The prefix of its output lines: [origin], [idp], [edge]. */
  label: string;
  command: string;
  args: readonly string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** One probe: true once it answers as a serving child does. */
  answers: () => Promise<boolean>;
  /** How long a start may take before it counts as failed (the edge bundles the Worker first). */
  startTimeoutMs: number;
}

export interface Backoff {
  /** The first restart's delay; each quick death doubles it. */
  initialMs: number;
  maxMs: number;
  /** A child that served at least this long starts again from `initialMs` when it next dies. */
  stableMs: number;
}

/** 0.5 s, 1 s, 2 s, … 10 s: quick for a one-off crash, and a child that keeps dying costs little. */
export const DEFAULT_BACKOFF: Backoff = { initialMs: 500, maxMs: 10_000, stableMs: 30_000 };

/**
 * The delays before one process's restarts: `initialMs` doubling with each quick death up to `maxMs`,
 * and `initialMs` again once it had served `stableMs`. The supervisor's children and the edge's workerd
 * (restarted by scripts/edge.ts behind its front) follow the same rule.
 */
export class RestartDelays {
  #nextMs: number;

  constructor(readonly backoff: Backoff = DEFAULT_BACKOFF) {
    this.#nextMs = backoff.initialMs;
  }

  /** The delay before the restart of a process that had served `servedMs` when it died. */
  after(servedMs: number): number {
    if (servedMs >= this.backoff.stableMs) this.#nextMs = this.backoff.initialMs;
    const delay = this.#nextMs;
    this.#nextMs = Math.min(delay * 2, this.backoff.maxMs);
    return delay;
  }
}

const PROBE_INTERVAL_MS = 300;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** Signals a child's whole process group: tsx's esbuild service, workerd under the edge. */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // The group is gone already (or never formed): the child alone, if it is still there.
    try {
      child.kill(signal);
    } catch {
      // Gone.
    }
  }
}

/** Signals the child process alone, leaving the rest of its group to it. */
function signalChild(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    child.kill(signal);
  } catch {
    // Gone.
  }
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `signal ${signal}` : `code ${code}`;
}

/** Prints a child's output line by line under its label: stdout to stdout, stderr to stderr. */
function relayOutput(child: ChildProcess, label: string): void {
  for (const [stream, write] of [
    [child.stdout, (line: string) => console.log(line)],
    [child.stderr, (line: string) => console.error(line)],
  ] as const) {
    let rest = "";
    stream?.on("data", (chunk: Buffer) => {
      const lines = (rest + chunk.toString()).split("\n");
      rest = lines.pop() ?? "";
      for (const line of lines) if (line.trim()) write(`[${label}] ${line}`);
    });
    stream?.on("end", () => {
      if (rest.trim()) write(`[${label}] ${rest}`);
      rest = "";
    });
  }
}

class Supervised {
  child: ChildProcess | undefined;
  restarts = 0;
  readonly #delays: RestartDelays;
  #servingSince = 0;
  #timer: NodeJS.Timeout | undefined;
  /** Set once the first start has succeeded: from then on a death means a restart. */
  #established = false;

  constructor(
    readonly spec: ChildSpec,
    readonly backoff: Backoff,
    readonly isStopping: () => boolean,
  ) {
    this.#delays = new RestartDelays(backoff);
  }

  /** Spawns the child and waits until it answers; rejects, naming why, if it dies or hangs first. */
  async start(): Promise<void> {
    const { spec } = this;
    const child = spawn(spec.command, [...spec.args], { cwd: spec.cwd, env: spec.env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    this.child = child;
    relayOutput(child, spec.label);
    // An operator (or a test) finds the process to inspect or kill here; it leads its own process group.
    console.log(`[start] ${spec.name} pid ${child.pid ?? "?"}`);
    const exited = new Promise<string>((resolve) => {
      child.once("error", (err) => resolve(`could not be started (${err.message})`));
      child.once("exit", (code, signal) => {
        resolve(`exited (${describeExit(code, signal)})`);
        this.#onExit(child, code, signal);
      });
    });
    let settled = false;
    const deadline = Date.now() + spec.startTimeoutMs;
    const serving = (async () => {
      while (!settled && Date.now() < deadline) {
        if (await spec.answers().catch(() => false)) return true;
        await sleep(PROBE_INTERVAL_MS);
      }
      return false;
    })();
    const outcome = await Promise.race([serving.then((ok) => (ok ? "serving" : "timeout")), exited]);
    settled = true;
    // Answering while dead means another process holds the port; a dead child never counts as started.
    if (outcome === "serving" && alive(child)) {
      this.#servingSince = Date.now();
      this.#established = true;
      return;
    }
    if (outcome === "timeout") {
      signalGroup(child, "SIGKILL");
      throw new Error(`${spec.name} did not answer within ${spec.startTimeoutMs / 1000} s`);
    }
    throw new Error(`${spec.name} ${outcome === "serving" ? await exited : outcome} while starting`);
  }

  #onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    // Whatever the child left in its group (workerd, esbuild's service) would hold ports and memory.
    signalGroup(child, "SIGKILL");
    if (this.isStopping() || !this.#established || child !== this.child) return;
    const delay = this.#delays.after(this.#servingSince ? Date.now() - this.#servingSince : 0);
    this.#servingSince = 0;
    this.restarts += 1;
    console.error(`${this.spec.name} exited (${describeExit(code, signal)}); restarting in ${(delay / 1000).toFixed(1)} s (restart ${this.restarts})`);
    this.#timer = setTimeout(() => void this.#restart(), delay);
  }

  async #restart(): Promise<void> {
    this.#timer = undefined;
    if (this.isStopping()) return;
    try {
      await this.start();
      console.log(`${this.spec.name} is serving again`);
    } catch (err) {
      // A death while starting was already announced and rescheduled by #onExit; a hang was killed, and
      // its exit reschedules the same way.
      if (!this.isStopping() && err instanceof Error && err.message.includes("did not answer")) console.error(`${err.message}; killed it`);
    }
  }

  cancelRestart(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/** Runs children, restarts those that die, and stops them all by draining. */
export class Supervisor {
  readonly #children = new Map<string, Supervised>();
  #stopping = false;

  constructor(readonly backoff: Backoff = DEFAULT_BACKOFF) {}

  get stopping(): boolean {
    return this.#stopping;
  }

  /**
   * Starts a child and resolves once it answers. Rejects if it dies or does not answer in time on this
   * first start; from then on, it is restarted whenever it dies.
   */
  start(spec: ChildSpec): Promise<void> {
    if (this.#stopping) return Promise.reject(new Error(`not starting ${spec.name}: stopping`));
    const supervised = new Supervised(spec, this.backoff, () => this.#stopping);
    this.#children.set(spec.name, supervised);
    return supervised.start();
  }

  /**
   * Drains and stops every child, tier by tier: each tier gets SIGTERM (a draining child stops accepting
   * and answers what is in flight), up to `drainMs` to exit, then SIGKILL to its whole group. Later tiers
   * keep serving while an earlier one drains: the edge's requests in flight may still need the origin.
   * SIGTERM goes to the child alone, not its group: the edge's workerd must keep serving until the edge's
   * front has passed on the requests it took in (a body still arriving has not reached workerd yet), and
   * the edge tells workerd to drain itself once they are answered.
   */
  async stop(tiers: readonly (readonly string[])[], drainMs: number): Promise<void> {
    this.#stopping = true;
    for (const supervised of this.#children.values()) supervised.cancelRestart();
    const named = new Set(tiers.flat());
    const all = [...tiers, [...this.#children.keys()].filter((name) => !named.has(name))];
    for (const tier of all) {
      const running = tier.flatMap((name) => {
        const child = this.#children.get(name)?.child;
        return child && alive(child) ? [{ name, child }] : [];
      });
      if (running.length === 0) continue;
      const gone = running.map(({ child }) => new Promise<void>((resolve) => (alive(child) ? child.once("exit", () => resolve()) : resolve())));
      for (const { child } of running) signalChild(child, "SIGTERM");
      await Promise.race([Promise.all(gone), sleep(drainMs)]);
      for (const { name, child } of running) {
        if (!alive(child)) continue;
        console.error(`${name} did not stop within ${drainMs / 1000} s; killing it`);
        signalGroup(child, "SIGKILL");
      }
      await Promise.all(gone);
    }
  }

  /** Kills every child's process group now (a second Ctrl-C). */
  kill(): void {
    this.#stopping = true;
    for (const supervised of this.#children.values()) {
      supervised.cancelRestart();
      if (supervised.child) signalGroup(supervised.child, "SIGKILL");
    }
  }
}
