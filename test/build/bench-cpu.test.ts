import { spawn, type ChildProcess } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { cpuSeconds, cpuSecondsByName, cpuSecondsSince, mainThreadCpuSeconds, treeCpuSeconds } from "../../bench/lib/workerd-process.js";

/*
 * `npm run bench -- peer --peer-pid PID` counts the CPU of the peer's processes with their descendants:
 * `next start` does its work in a server it spawns, and a figure that read only the given process would
 * show the peer as nearly free. Here a shell idles while its child burns CPU: the tree's count must grow
 * by about what the child used, the shell's own count must not.
 */

let shell: ChildProcess | undefined;
afterEach(() => {
  // The shell's group: the shell and the child it started.
  if (shell?.pid !== undefined && shell.exitCode === null) process.kill(-shell.pid, "SIGKILL");
  shell = undefined;
});

/** Waits until `f` holds, polling; fails the test after `ms`. */
async function until(f: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!f()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("treeCpuSeconds", () => {
  it("counts a process's descendants, which do the work, beside the process itself", async () => {
    // sh waits on a node child that spins for 1.5 s of wall time, then both exit.
    shell = spawn("sh", ["-c", `"${process.execPath}" -e "const end = Date.now() + 1500; while (Date.now() < end);"; sleep 30`], {
      detached: true,
      stdio: "ignore",
    });
    const pid = shell.pid!;
    const shellBefore = cpuSeconds(pid);
    const treeBefore = treeCpuSeconds([pid]);
    // Read while the child spins: once it exits, its time is its parent's cutime, which is not counted.
    await until(() => treeCpuSeconds([pid]) - treeBefore >= 0.3, 10_000);
    expect(cpuSeconds(pid) - shellBefore).toBeLessThan(0.2);
  });

  it("counts a process in two given trees once", () => {
    const mine = treeCpuSeconds([process.pid]);
    const twice = treeCpuSeconds([process.pid, process.pid]);
    // Both read the same clock-tick counters a moment apart; twice as much would mean counted twice.
    expect(twice).toBeLessThan(mine * 1.5 + 0.1);
  });

  it("refuses a given process that is gone rather than count it as nothing", async () => {
    const gone = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
    await new Promise((r) => gone.once("exit", r));
    expect(() => treeCpuSeconds([gone.pid!])).toThrow(/is gone/);
  });
});

describe("mainThreadCpuSeconds", () => {
  it("counts the main thread alone, not a worker thread's CPU", async () => {
    // bench/profile-origin.ts splits the main thread's CPU by its profile; a process's other threads
    // (here a worker spinning while the main thread waits) must not be in it.
    const spin = "const end = Date.now() + 3000; while (Date.now() < end);";
    shell = spawn(process.execPath, ["-e", `new (require("node:worker_threads").Worker)(${JSON.stringify(spin)}, { eval: true }); setTimeout(() => {}, 30000);`], {
      detached: true,
      stdio: "ignore",
    });
    const pid = shell.pid!;
    await until(() => cpuSeconds(pid) > 0, 10_000);
    const [all, main] = [cpuSeconds(pid), mainThreadCpuSeconds(pid)];
    await until(() => cpuSeconds(pid) - all >= 0.5, 10_000);
    expect(mainThreadCpuSeconds(pid) - main).toBeLessThan(0.2);
  });
});

describe("cpuSecondsByName and cpuSecondsSince", () => {
  it("read every live process of a name, by pid, one started after an earlier reading too", async () => {
    // The origin suite counts PostgreSQL as every process named postgres, read before and after a load,
    // and backends come and go: a process started in between (here a node process spinning) must be in
    // the later reading with what it used, and absent from the earlier one.
    const before = cpuSecondsByName("node");
    expect(before.get(process.pid)).toBeGreaterThan(0);
    shell = spawn(process.execPath, ["-e", "const end = Date.now() + 3000; while (Date.now() < end); setTimeout(() => {}, 30000);"], {
      detached: true,
      stdio: "ignore",
    });
    const pid = shell.pid!;
    expect(before.has(pid)).toBe(false);
    await until(() => (cpuSecondsByName("node").get(pid) ?? 0) >= 0.5, 10_000);
    expect(cpuSecondsByName("sh").has(pid)).toBe(false);
    expect(cpuSecondsByName("no-such-command-name").size).toBe(0);
  });

  it("count a process started in between whole, one running throughout by its difference, one gone not at all", () => {
    const before = new Map([
      [10, 5],
      [11, 2],
    ]);
    const after = new Map([
      [10, 5.5],
      [12, 0.25],
    ]);
    expect(cpuSecondsSince(before, after)).toBeCloseTo(0.75, 9);
  });
});
