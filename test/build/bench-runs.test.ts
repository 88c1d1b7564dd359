import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { cpuModels, cpuName, readCpu, type Cpu, type Machine } from "../../bench/lib/machine.js";
import { figure, series, summaryTable, type SuiteResult } from "../../bench/lib/report.js";
import { eachRun, type FailedRun } from "../../bench/lib/suite.js";

/*
 * The bench never loses a run (issue 29): a run that throws is recorded as failed and the others are
 * kept and reported; every result names the CPU model it was measured on, and bench/compare.ts refuses
 * to put figures of two CPU models side by side.
 */

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "bench-runs-test-"));
  dirs.push(dir);
  return dir;
}

const EPYC: Cpu = { modelName: "AMD EPYC", vendor: "AuthenticAMD", family: 25, model: 1, stepping: 1 };
const XEON: Cpu = { modelName: "Intel(R) Xeon(R) Platinum 8370C CPU @ 2.80GHz", vendor: "GenuineIntel", family: 6, model: 106, stepping: 6 };

function machineWith(cpu: Cpu | undefined): Machine {
  return {
    cores: 2,
    cpuModel: cpu?.modelName ?? "AMD EPYC",
    ...(cpu ? { cpu } : {}),
    memoryGiB: 8,
    os: "Linux",
    node: "22",
    workerd: "1",
    miniflare: "4",
    wrangler: "4",
    autocannon: "8",
    postgres: "16",
    chromium: "none",
  };
}

function result(runs: number[], failedRuns: FailedRun[], cpu: Cpu | undefined = EPYC): SuiteResult {
  return {
    suite: "joins",
    title: "Joins/s into one shard",
    command: "npm run bench -- joins",
    method: "",
    startedAt: "2026-12-06T06:00:00.000Z",
    finishedAt: "2026-12-06T06:05:00.000Z",
    runs: runs.length + failedRuns.length,
    failedRuns,
    quick: false,
    settings: {},
    machine: machineWith(cpu),
    loadAverage: { before: [0.1, 0.1, 0.1], after: [1, 1, 1] },
    figures: [figure("joins.one-shard", series("1. Joins/s into one shard", "/s", runs), series("bare", "/s", runs.map(() => 1000)), "joins / bare DO")],
    raw: [],
    notes: [],
  };
}

describe("a suite's runs", () => {
  it("keeps the runs that succeeded when one throws, and records which one failed and why", async () => {
    const failed: FailedRun[] = [];
    const logged: string[] = [];
    const done = await eachRun(
      5,
      async (run) => {
        if (run === 2) throw new Error("load generator failed (exit null): killed at 240 s");
        return run * 10;
      },
      failed,
      (m) => logged.push(m),
    );
    expect(done).toEqual([0, 10, 30, 40]);
    expect(failed).toEqual([{ run: 2, error: "load generator failed (exit null): killed at 240 s" }]);
    expect(logged.join("\n")).toContain("run 3 of 5 failed");
  });

  it("fails the suite when every run failed, each run's error kept", async () => {
    const failed: FailedRun[] = [];
    await expect(
      eachRun(
        2,
        async (run) => {
          throw new Error(`no workerd ${run}`);
        },
        failed,
        () => {},
      ),
    ).rejects.toThrow(/all 2 run\(s\) failed; run 1: no workerd 0/);
    expect(failed.map((f) => f.error)).toEqual(["no workerd 0", "no workerd 1"]);
  });

  it("reports medians over the runs that succeeded, and the failure beside them", () => {
    const table = summaryTable([result([1000, 2000, 3000, 4000], [{ run: 2, error: "load generator failed (exit null): killed\nstderr: …" }])]);
    const row = table.split("\n").find((l) => l.startsWith("| 1. Joins/s"))!;
    expect(row).toContain("| 2,500 /s (1,000–4,000) |");
    expect(row).toContain("| 4 of 5 (run 3 failed: load generator failed (exit null): killed) |");
  });

  it("reports a suite whose every run failed as failed, not with an older result's figures", () => {
    const failed: SuiteResult = { ...result([], [{ run: 0, error: "boom" }]), figures: [], failure: "all 1 run(s) failed; run 1: boom" };
    expect(summaryTable([failed])).toContain("| Joins/s into one shard: **failed** | all 1 run(s) failed; run 1: boom |");
  });
});

describe("the CPU a figure was measured on", () => {
  it("is read from /proc/cpuinfo: the model name and the family, model and stepping a hypervisor leaves", () => {
    const file = join(tempDir(), "cpuinfo");
    const entry = (n: number) =>
      `processor\t: ${n}\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 1\nmodel name\t: AMD EPYC\nstepping\t: 1\ncpu MHz\t\t: 2445.428\n`;
    writeFileSync(file, `${entry(0)}\n${entry(1)}\n`);
    expect(readCpu(file)).toEqual(EPYC);
    expect(cpuName(machineWith(readCpu(file)))).toBe("AMD EPYC, AuthenticAMD family 25 model 1 stepping 1");
    expect(readCpu(join(tempDir(), "absent"))).toBeUndefined();
  });

  it("tells two models apart and leaves out results that did not record one", () => {
    const models = cpuModels([
      { label: "before/joins", machine: machineWith(EPYC) },
      { label: "before/polls", machine: machineWith(undefined) },
      { label: "after/joins", machine: machineWith(XEON) },
    ]);
    expect([...models.values()]).toEqual([["before/joins"], ["after/joins"]]);
  });

  it("makes bench/compare.ts refuse result sets of different CPU models, naming both", async () => {
    const before = tempDir();
    const after = tempDir();
    writeFileSync(join(before, "joins.json"), JSON.stringify(result([1000], [], EPYC)));
    writeFileSync(join(after, "joins.json"), JSON.stringify(result([1100], [], XEON)));
    const run = promisify(execFile)(process.execPath, ["--import", "tsx", "bench/compare.ts", before, after], { encoding: "utf8" });
    const failure = await run.then(
      () => undefined,
      (err: { code: number; stderr: string }) => err,
    );
    expect(failure?.code).toBe(1);
    expect(failure?.stderr).toContain("refusing to compare results measured on different CPU models");
    expect(failure?.stderr).toContain("AMD EPYC, AuthenticAMD family 25 model 1 stepping 1");
    expect(failure?.stderr).toContain("Intel(R) Xeon(R) Platinum 8370C CPU @ 2.80GHz, GenuineIntel family 6 model 106 stepping 6");
  });
});
