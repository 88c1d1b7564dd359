import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { mintOperatorSession } from "../../src/edge/operator-tokens.js";
import { forgetSnapshots } from "../../src/edge/shard-client.js";
import { config, join, ORIGIN, randomIdentity, setClock, stubOf } from "./helpers.js";

/** A request as an operator signed in through the local one-time login (test/edge/operator-auth.test.ts covers the login). */
async function asOperator(path: string): Promise<Response> {
  const session = await mintOperatorSession(config.operators.localSecret!);
  return SELF.fetch(`${ORIGIN}${path}`, { headers: { cookie: `wr_operator=${session}` } });
}

interface OpsCohort { id: string; open: boolean; joined: number; admitted: number; waiting: number; active: number }

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
    });
    // The first arrival in an empty shard goes straight in: something was admitted, so the sums are not all zero.
    expect(after.admitted).toBeGreaterThan(0);
    expect(view.cohorts.find((c) => c.id === "50-52")).toMatchObject({ open: false, joined: 0 });
    expect(JSON.stringify(view)).not.toMatch(/\+82|sub-/);
  });
});

describe("the ops page", () => {
  it("is served by the Worker, uncached, with its script", async () => {
    const page = await asOperator("/ops");
    expect(page.status).toBe(200);
    expect(page.headers.get("cache-control")).toBe("no-store");
    expect(await page.text()).toContain('<script src="/ops/ops.js"');
    const script = await asOperator("/ops/ops.js");
    expect(script.status).toBe(200);
    expect(await script.text()).toContain("/api/ops/queue");
  });
});
