import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { QueueShard } from "../../src/edge/shard/queue-shard.js";
import { forgetSnapshots } from "../../src/edge/queue/snapshot-cache.js";
import { lineStateOf } from "../../src/edge/operators/line-state.js";
import type { OriginHealthView } from "../../src/edge/origin-health/autopilot.js";
import { asOperator, config, errorCode, freshShard, join, randomIdentity, restartObject, setClock, stubOf } from "./helpers.js";

interface OpsCohort { id: string; open: boolean; joined: number; admitted: number; waiting: number; active: number; shardsAlone: number; line: { state: string; reason: string | null } }

async function ops(): Promise<{ config: { maxActive: number; shards: number }; cohorts: OpsCohort[] }> {
  const res = await asOperator("/api/ops/queue");
  expect(res.status).toBe(200);
  return (await res.json()) as { config: { maxActive: number; shards: number }; cohorts: OpsCohort[] };
}

describe("the ops view", () => {
  it("counts the line, admissions and active people per cohort, without identities", async () => {
    forgetSnapshots();
    const before = (await ops()).cohorts.find((c) => c.id === "53-54")!;
    for (let i = 0; i < 5; i++) await join(randomIdentity(), "1967-08-09");
    // Every shard of the cohort stopped at one moment, so the view and the objects' own word agree exactly.
    const stubs = Array.from({ length: config.shards }, (_, shard) => stubOf({ cohort: "53-54", shard }));
    const at = Date.now();
    for (const stub of stubs) await setClock(stub, at);
    forgetSnapshots();
    const view = await ops();
    expect(view.config).toMatchObject({ maxActive: config.maxActive, shards: config.shards });
    const after = view.cohorts.find((c) => c.id === "53-54")!;
    expect(after.joined - before.joined).toBe(5);
    const shards = await Promise.all(stubs.map((stub) => stub.snapshot()));
    const sum = (pick: (s: (typeof shards)[number]) => number) => shards.reduce((a, s) => a + pick(s), 0);
    expect(after).toMatchObject({
      open: true,
      joined: sum((s) => s.lastSeq),
      admitted: sum((s) => s.serving),
      waiting: sum((s) => s.lastSeq - s.serving),
      active: sum((s) => s.active),
      // These shards are each their own line (TEST_SHARDS_ALONE): every one with people waiting is alone.
      shardsAlone: shards.filter((s) => s.lastSeq > s.serving && s.line === undefined).length,
    });
    // The first arrival in an empty shard goes straight in: something was admitted, so the sums are not all zero.
    expect(after.admitted).toBeGreaterThan(0);
    expect(view.cohorts.find((c) => c.id === "50-52")).toMatchObject({ open: false, joined: 0 });
    expect(JSON.stringify(view)).not.toMatch(/\+82|sub-/);
  });
});

describe("the line's state on the ops view", () => {
  /** A shard admitting at `rate` of its configured 15 a minute, for the autopilot's `reason`. */
  const shard = (rate: number, reason: OriginHealthView["reason"]) => ({
    ratePerMinute: rate,
    configuredPerMinute: 15,
    origin: { reason, changedAt: 0, errorShare: null, p95Ms: null, samples: 0 },
  });
  const open = { open: true, paused: false };

  it("is slowed only when the autopilot cut the rate for errors or latency, and climbing below the configured rate otherwise", () => {
    expect(lineStateOf(open, [shard(15, "at ceiling"), shard(15, "started")])).toEqual({ state: "admitting", reason: null });
    expect(lineStateOf(open, [shard(15, "disabled")])).toEqual({ state: "admitting", reason: null });
    expect(lineStateOf(open, [shard(15, "at ceiling"), shard(7.5, "latency above target")])).toEqual({ state: "slowed", reason: "latency above target" });
    // Errors come first: they are what the autopilot exists to prevent.
    expect(lineStateOf(open, [shard(10, "latency above target"), shard(7.5, "errors above target")])).toEqual({ state: "slowed", reason: "errors above target" });
    // After a start, a raised rate or a recovery, the rate climbs: below the configured one, but not slowed.
    for (const reason of ["no samples, climbing", "healthy, climbing", "started", "at ceiling"] as const) {
      expect(lineStateOf(open, [shard(12, reason), shard(15, "at ceiling")]), reason).toEqual({ state: "climbing", reason });
    }
    // A cut the shard is already back from says nothing now.
    expect(lineStateOf(open, [shard(15, "errors above target")])).toEqual({ state: "admitting", reason: null });
  });

  it("says paused whatever the rate, and not open yet before the opening", () => {
    expect(lineStateOf({ open: true, paused: true }, [shard(7.5, "errors above target")])).toEqual({ state: "paused", reason: null });
    expect(lineStateOf({ open: false, paused: true }, [])).toEqual({ state: "not open yet", reason: null });
    expect(lineStateOf({ open: false, paused: false }, [])).toEqual({ state: "not open yet", reason: null });
  });

  it("is on each cohort of GET /api/ops/queue", async () => {
    forgetSnapshots();
    const view = await ops();
    const line = (id: string) => view.cohorts.find((c) => c.id === id)!.line;
    expect(line("50-52")).toEqual({ state: "not open yet", reason: null });
    expect(line("paused")).toEqual({ state: "paused", reason: null });
    // Shards start at the configured rate.
    expect(line("55-59")).toEqual({ state: "admitting", reason: null });
  });
});

describe("the ops page", () => {
  it("is served by the Worker, uncached, with the console's files from public/ops/", async () => {
    const page = await asOperator("/ops");
    expect(page.status).toBe(200);
    expect(page.headers.get("cache-control")).toBe("no-store");
    expect(page.headers.get("content-security-policy")).toMatch(/script-src 'self'/);
    const html = await page.text();
    expect(html).toContain('<script src="/ops/console.js"');
    expect(html).toContain('<script src="/ops/uPlot.iife.min.js"');
    // The commands that change the running edge, without a restart.
    expect(html).toContain("<code>npm run ops -- status</code>");
    expect(html).toContain("without a restart");
    const script = await asOperator("/ops/console.js");
    expect(script.status).toBe(200);
    expect(script.headers.get("cache-control")).toBe("no-store");
    const text = await script.text();
    expect(text).toContain("/api/ops/queue");
    expect(text).toContain("/api/ops/cohorts/");
    const uplot = await asOperator("/ops/uPlot.iife.min.js");
    expect(uplot.status).toBe(200);
    expect(await uplot.text()).toMatch(/^\/\*! https:\/\/github.com\/leeoniya\/uPlot \(v1\.6\.32\)/);
    expect((await asOperator("/ops/uPlot.min.css")).headers.get("content-type")).toMatch(/text\/css/);
    const missing = await asOperator("/ops/nothing-here.js");
    expect(missing.status).toBe(404);
    expect(await errorCode(missing)).toBe("not_found");
  });
});

describe("the per-minute history", () => {
  const MINUTE = 60_000;

  it("closes each minute with its joins, admissions, line, active count and median wait, fills quiet minutes, and keeps two hours", async () => {
    // A shard of its own: 60/min over 4 shards is 15 a minute here, one at a time, and at most 2 active.
    const address = freshShard();
    const stub = stubOf(address);
    const m0 = Math.floor(Date.now() / MINUTE) + 10;
    const t0 = m0 * MINUTE + 1_000;
    await setClock(stub, t0);
    // One at a time, so each join is a group commit of its own and the second one's tick admits the first
    // arrival at t0. Concurrent joins may all land in one commit, whose tick runs before they are written
    // and sees an empty line: then nobody would be admitted until the snapshot below.
    for (let i = 0; i < 5; i++) await stub.join(`citizen-${address.cohort}-${i}`);
    // Half a minute on, a second admission; the cap (2) stops a third.
    await setClock(stub, t0 + 30_000);
    await stub.snapshot();
    await setClock(stub, t0 + 70_000);
    let history = await stub.history(3);
    expect(history.map((m) => m.minute)).toEqual([m0 - 1, m0, m0 + 1]);
    expect(history[1]).toEqual({ minute: m0, joined: 5, admitted: 2, departed: 0, waiting: 3, active: 2, activeMax: 2, medianWaitMs: 0 });
    // The minute under way, so far: nobody new, nobody let in (the cap is full).
    expect(history[2]).toMatchObject({ minute: m0 + 1, joined: 0, admitted: 0, waiting: 3, active: 2 });

    // Nothing calls the shard for minutes (the claim window, 120 s, has not lapsed yet at +100 s): then
    // the quiet minutes keep the line as it was.
    await setClock(stub, t0 + 100_000);
    await stub.snapshot();
    await setClock(stub, t0 + 100_000 + 4 * MINUTE);
    history = await stub.history(7);
    expect(history.map((m) => m.minute)).toEqual([m0 - 1, m0, m0 + 1, m0 + 2, m0 + 3, m0 + 4, m0 + 5]);
    expect(history.slice(2, 6).map((m) => [m.joined, m.waiting])).toEqual([[0, 3], [0, 3], [0, 3], [0, 3]]);
    // The two unclaimed admissions lapsed: the next got in now (one at a time: the burst is one person),
    // having waited since the first minute.
    expect(history[6]).toMatchObject({ admitted: 1, waiting: 2 });
    expect(history[6]!.medianWaitMs).toBe(t0 + 100_000 + 4 * MINUTE - t0);

    // Two hours on, the first minute is gone from the object, not just from the answer.
    await setClock(stub, t0 + 125 * MINUTE);
    history = await stub.history();
    expect(history).toHaveLength(120);
    expect(history.some((m) => m.minute === m0)).toBe(false);
    const kept = await runInDurableObject(stub, (shard: QueueShard, state) =>
      state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM ops_minutes WHERE minute <= ?", m0).one().n);
    expect(kept).toBe(0);
  });

  it("survives a restart: closed minutes are in SQLite, and the minute under way resumes from the last one closed", async () => {
    let stub = stubOf(freshShard());
    const m0 = Math.floor(Date.now() / MINUTE) + 20;
    const t0 = m0 * MINUTE + 1_000;
    await setClock(stub, t0);
    for (let i = 0; i < 3; i++) await stub.join(`early-${i}-${crypto.randomUUID()}`);
    await setClock(stub, t0 + 61_000);
    for (let i = 0; i < 2; i++) await stub.join(`late-${i}-${crypto.randomUUID()}`);
    const before = await stub.history(2);

    stub = await restartObject(stub);
    // A restarted object starts with the runtime's clock; put the test's clock back.
    await setClock(stub, t0 + 62_000);
    const after = await stub.history(2);
    expect(after.map((m) => [m.minute, m.joined])).toEqual([[m0, 3], [m0 + 1, 2]]);
    // All but the peak of the minute under way, which lived in memory and starts again from now.
    expect(after.map((m) => ({ ...m, activeMax: 0 }))).toEqual(before.map((m) => ({ ...m, activeMax: 0 })));
  });

  it("GET /api/ops/cohorts/{id}/history sums the cohort's shards minute by minute", async () => {
    type History = { cohort: string; policy: { admitPerMinute: number }; minutes: Array<{ at: string; joined: number; admitted: number; waiting: number }> };
    const read = async (path = "/api/ops/cohorts/53-54/history") => {
      const res = await asOperator(path);
      expect(res.status, await res.clone().text()).toBe(200);
      return (await res.json()) as History;
    };
    const before = await read();
    expect(before.minutes).toHaveLength(120);
    expect(before.policy.admitPerMinute).toBe(config.admitPerMinute);
    for (let i = 0; i < 3; i++) await join(randomIdentity(), "1967-08-09");
    const after = await read();
    const total = (h: History) => h.minutes.reduce((a, m) => a + m.joined, 0);
    expect(total(after) - total(before)).toBe(3);
    // The minute under way ends on the line as the objects see it now.
    const stubs = Array.from({ length: config.shards }, (_, shard) => stubOf({ cohort: "53-54", shard }));
    const snaps = await Promise.all(stubs.map((s) => s.snapshot()));
    expect(after.minutes.at(-1)!.waiting).toBe(snaps.reduce((a, s) => a + s.lastSeq - s.serving, 0));
    expect((await read("/api/ops/cohorts/53-54/history?minutes=5")).minutes).toHaveLength(5);
    expect((await read("/api/ops/cohorts/50-52/history")).minutes).toEqual([]);
  });

  it("refuses an unknown cohort and a bad span in the error shape", async () => {
    expect(await errorCode(await asOperator("/api/ops/cohorts/nope/history"))).toBe("not_found");
    for (const bad of ["0", "121", "abc", "1.5"]) {
      const res = await asOperator(`/api/ops/cohorts/55-59/history?minutes=${bad}`);
      expect(res.status, bad).toBe(400);
      expect(await errorCode(res)).toBe("invalid_request");
    }
  });
});

describe("per-cohort overrides", () => {
  it("a cohort paused by its own override admits nobody, however long it waits, while another cohort admits", async () => {
    const paused = await join(randomIdentity(), "1945-03-03");
    expect(paused.status).toMatchObject({ cohort: "paused", state: "paused", etaSeconds: null });
    const running = await join(randomIdentity(), "1967-08-09");
    expect(running.status.cohort).toBe("53-54");

    // Ten minutes on for every shard of the paused cohort: still nobody let in, everybody in place.
    const stubs = Array.from({ length: config.shards }, (_, shard) => stubOf({ cohort: "paused", shard }));
    const later = Date.now() + 10 * 60_000;
    for (const stub of stubs) await setClock(stub, later);
    const snaps = await Promise.all(stubs.map((s) => s.snapshot()));
    expect(snaps.reduce((a, s) => a + s.serving, 0)).toBe(0);
    expect(snaps.reduce((a, s) => a + s.lastSeq, 0)).toBeGreaterThanOrEqual(1);
    expect(snaps.every((s) => s.paused && s.ratePerMinute === 6 / config.shards)).toBe(true);

    const running2 = await Promise.all(Array.from({ length: config.shards }, (_, shard) => stubOf({ cohort: "53-54", shard }).snapshot()));
    expect(running2.reduce((a, s) => a + s.serving, 0)).toBeGreaterThan(0);
    expect(running2.every((s) => !s.paused && s.ratePerMinute === config.admitPerMinute / config.shards)).toBe(true);

    forgetSnapshots();
    const view = (await (await asOperator("/api/ops/queue")).json()) as { cohorts: Array<{ id: string; admitted: number; policy: { paused: boolean; admitPerMinute: number } }> };
    expect(view.cohorts.find((c) => c.id === "paused")).toMatchObject({ admitted: 0, policy: { paused: true, admitPerMinute: 6, maxActive: config.maxActive } });
    expect(view.cohorts.find((c) => c.id === "53-54")!.policy).toEqual({ paused: false, admitPerMinute: config.admitPerMinute, maxActive: config.maxActive });
  });
});
