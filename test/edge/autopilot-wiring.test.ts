import { env, runInDurableObject, SELF } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { DECISION_MS, MIN_SAMPLES, readAutopilotState, type HealthSample } from "../../src/edge/origin-health/autopilot.js";
import { BREAKER_FIRST_PROBE_MS } from "../../src/edge/origin-health/breaker.js";
import type { QueueShard } from "../../src/edge/shard/queue-shard.js";
import { forgetSnapshots } from "../../src/edge/queue/snapshot-cache.js";
import { asOperator, callsOf, config, forgetOriginHealth, freshShard, identityInShard, join, ORIGIN, restartObject, setClock, status, stubOf } from "./helpers.js";

/**
 * The autopilot wired into the shards and the gate: health samples reach the citizen's shard, its rate in
 * force follows them (within the configured rate and the floor), the snapshot and the ops view carry both
 * rates, and the gate stops forwarding to an origin it has just seen failing. Bindings as in wrangler.toml:
 * ADMIT_PER_MINUTE 60 over 4 shards (15 a shard), floor 6 (1.5 a shard), 1% errors, p95 1 s.
 */

const T0 = Date.parse("2026-11-26T00:00:00Z");
const CONFIGURED = config.admitPerMinute / config.shards;
const FLOOR = config.autopilot.floorPerMinute / config.shards;
const failures = (n: number, outcome: HealthSample["outcome"] = "5xx"): HealthSample[] => Array.from({ length: n }, () => ({ latencyMs: 40, outcome }));
const healthy = (n: number): HealthSample[] => Array.from({ length: n }, () => ({ latencyMs: 40, outcome: "ok" }));

async function storedState(stub: DurableObjectStub<QueueShard>) {
  return runInDurableObject(stub, (_shard: QueueShard, state) =>
    readAutopilotState(state.storage.sql.exec<{ autopilot: string | null }>("SELECT autopilot FROM counters WHERE id = 1").one().autopilot),
  );
}

afterEach(() => {
  vi.restoreAllMocks();
  forgetOriginHealth();
});

describe("a shard's rate in force", () => {
  it("starts at the configured rate, is cut when the gate reports failures, says why, and keeps the cut across an eviction", async () => {
    let stub = stubOf(freshShard(1));
    await setClock(stub, T0);
    const first = await stub.snapshot();
    expect(first).toMatchObject({ ratePerMinute: CONFIGURED, configuredPerMinute: CONFIGURED, origin: { reason: "started", errorShare: null } });

    await stub.reportHealth(failures(MIN_SAMPLES));
    await setClock(stub, T0 + DECISION_MS);
    const cut = await stub.snapshot();
    // Every request failed: the deepest cut one decision allows, half the rate.
    expect(cut.ratePerMinute).toBe(CONFIGURED / 2);
    expect(cut.configuredPerMinute).toBe(CONFIGURED);
    expect(cut.origin).toMatchObject({ reason: "errors above target", errorShare: 1, p95Ms: 40, samples: MIN_SAMPLES, changedAt: T0 + DECISION_MS });

    // The state is in SQLite: a new instance admits at the cut rate, not the configured one.
    stub = await restartObject(stub);
    await setClock(stub, T0 + DECISION_MS + 1_000);
    expect((await stub.snapshot()).ratePerMinute).toBe(CONFIGURED / 2);
    expect((await storedState(stub))?.reason).toBe("errors above target");
  });

  it("falls to the floor under sustained failures, then climbs back gradually to the configured rate and no higher", async () => {
    const stub = stubOf(freshShard(2));
    let clock = T0;
    const decide = async (samples: HealthSample[]) => {
      await setClock(stub, clock);
      await stub.reportHealth(samples);
      clock += DECISION_MS;
      await setClock(stub, clock);
      return (await stub.snapshot()).ratePerMinute;
    };
    const down: number[] = [];
    for (let i = 0; i < 6; i++) down.push(await decide(failures(MIN_SAMPLES, "timeout")));
    for (let i = 1; i < down.length; i++) expect(down[i]!).toBeLessThanOrEqual(down[i - 1]!);
    expect(down.at(-1)).toBe(FLOOR);

    const up: number[] = [];
    for (let i = 0; i < 200 && up.at(-1) !== CONFIGURED; i++) up.push(await decide(healthy(MIN_SAMPLES)));
    expect(up.at(-1)).toBe(CONFIGURED);
    expect(Math.max(...up)).toBeLessThanOrEqual(CONFIGURED);
    // Gradual: a healthy origin earns the rate back over minutes of decisions, not in one.
    expect(up.length).toBeGreaterThan(30);
    for (let i = 1; i < up.length; i++) expect(up[i]!).toBeGreaterThanOrEqual(up[i - 1]!);
  });

  it("takes samples with a completion, and ignores samples that are not well formed", async () => {
    const stub = stubOf(freshShard(0));
    await setClock(stub, T0);
    const malformed = [
      ...Array.from({ length: MIN_SAMPLES }, () => ({ latencyMs: Number.NaN, outcome: "5xx" })),
      ...Array.from({ length: MIN_SAMPLES }, () => ({ latencyMs: 10, outcome: "on fire" })),
    ] as unknown as HealthSample[];
    await stub.reportHealth(malformed);
    expect((await storedState(stub))?.window.samples).toBe(0);

    // No such ticket: nothing completes, but the samples still count.
    expect(await stub.complete(1, "no-such-ticket", failures(MIN_SAMPLES, "unavailable"))).toEqual({ completed: false });
    await setClock(stub, T0 + DECISION_MS);
    expect((await stub.snapshot()).ratePerMinute).toBe(CONFIGURED / 2);
  });

  it("with AUTOPILOT=false admits at the configured rate whatever the samples say", async () => {
    const stub = stubOf(freshShard(3));
    await runInDurableObject(stub, (shard: QueueShard) => {
      // The object's bindings as a deployment with the autopilot off would give them.
      Object.assign(shard, { env: { ...env, AUTOPILOT: "false" }, now: () => T0 });
    });
    for (let i = 0; i < 4; i++) {
      await setClock(stub, T0 + i * DECISION_MS);
      await stub.reportHealth(failures(MIN_SAMPLES));
    }
    await setClock(stub, T0 + 5 * DECISION_MS);
    const snap = await stub.snapshot();
    expect(snap).toMatchObject({ ratePerMinute: CONFIGURED, configuredPerMinute: CONFIGURED, origin: { reason: "disabled" } });
  });
});

describe("the gate and the origin's health", () => {
  it("hands the citizen's shard the samples of failed bookings, and stops forwarding once this isolate has seen the origin failing", async () => {
    const shard = 1;
    const identity = await identityInShard(shard);
    const { ticket } = await join(identity);
    let answer = await status(ticket);
    for (let i = 0; i < 20 && answer.state !== "admitted"; i++) {
      await new Promise((r) => setTimeout(r, 250));
      answer = await status(ticket);
    }
    expect(answer.state).toBe("admitted");
    let reached = 0;
    vi.spyOn(globalThis, "fetch").mockImplementation(async () => {
      reached++;
      return new Response(JSON.stringify({ error: { code: "internal" } }), { status: 500, headers: { "content-type": "application/json" } });
    });
    const book = () =>
      SELF.fetch(`${ORIGIN}/api/bookings`, {
        method: "POST",
        headers: { authorization: `Bearer ${answer.pass!}`, "content-type": "application/json" },
        body: JSON.stringify({ slotId: 1 }),
      });
    // Failures the origin gave: each the designed, short retry.
    for (let i = 0; i < 3; i++) {
      const res = await book();
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toBe("3");
      await res.arrayBuffer();
    }
    expect(reached).toBe(3);
    // Now the breaker is open: the origin is not asked, the citizen is told to come back later, pass kept.
    const held = await book();
    expect(held.status).toBe(503);
    // …until the breaker's next probe is due, which is soon after it opened.
    expect(Number(held.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(Number(held.headers.get("retry-after"))).toBeLessThanOrEqual(BREAKER_FIRST_PROBE_MS / 1000);
    expect(await held.json()).toMatchObject({ error: { code: "unavailable" } });
    expect(reached).toBe(3);

    // The shard heard about the failures without any completion (a report of the gate's own).
    const stub = stubOf({ cohort: "55-59", shard });
    for (let i = 0; i < 40 && (await callsOf(stub)).reportHealth === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect((await callsOf(stub)).reportHealth).toBeGreaterThan(0);
    const state = await storedState(stub);
    expect((state?.window.errors ?? 0) + (state?.lastFinding?.errors ?? 0)).toBeGreaterThanOrEqual(1);
  });

  it("shows operators the configured and the actual rate, the origin's health and why the rate changed", async () => {
    const cohort = "53-54";
    const stub = stubOf({ cohort, shard: 2 });
    const at = Date.now();
    await setClock(stub, at);
    await stub.reportHealth([...failures(MIN_SAMPLES - 5), ...healthy(5)]);
    await setClock(stub, at + DECISION_MS);
    forgetSnapshots();
    const res = await asOperator("/api/ops/queue");
    expect(res.status).toBe(200);
    const view = (await res.json()) as { cohorts: Array<Record<string, unknown> & { id: string }> };
    const row = view.cohorts.find((c) => c.id === cohort)!;
    expect(row.configuredPerMinute).toBe(config.admitPerMinute);
    expect(row.ratePerMinute).toBe(config.admitPerMinute - CONFIGURED / 2);
    expect(row.origin).toEqual({ errorShare: 0.75, p95Ms: 40 });
    expect(row.rateChange).toEqual({ reason: "errors above target", at: new Date(at + DECISION_MS).toISOString(), shard: 2 });
    // The console's word for it: slowed, and why.
    expect(row.line).toEqual({ state: "slowed", reason: "errors above target" });

    // The origin answers well again: the shard climbs back, which is no longer "slowed".
    await setClock(stub, at + 2 * DECISION_MS);
    await stub.reportHealth(healthy(MIN_SAMPLES));
    forgetSnapshots();
    const recovering = ((await (await asOperator("/api/ops/queue")).json()) as typeof view).cohorts.find((c) => c.id === cohort)!;
    expect(recovering.ratePerMinute).toBeLessThan(config.admitPerMinute);
    expect(recovering.line).toEqual({ state: "climbing", reason: "healthy, climbing" });
  });
});
