import { createExecutionContext, env, SELF, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createEdgeApp } from "../../src/edge/app.js";
import { errorCode, freshShard, stubOf } from "./helpers.js";

/**
 * The fault suite's hook (src/edge/routes/faults.ts) is a test surface: with wrangler.toml's FAULT_HOOKS
 * ("off") it must not exist, and even when on it must serve nobody but this machine.
 */

const CLOCK = "/__faults/shards/55-59/0/clock";
const EVICT = "/__faults/shards/55-59/0/evict";

/** The app with FAULT_HOOKS forced to `value` for one request, as an operator's binding would set it. */
async function withHooks(value: string, url: string, init: RequestInit): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await createEdgeApp().fetch(new Request(url, init), { ...env, FAULT_HOOKS: value }, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

describe("the fault hooks", () => {
  it("are a 404 like any unknown path with wrangler.toml's binding", async () => {
    expect(env.FAULT_HOOKS).toBe("off");
    for (const path of [CLOCK, EVICT]) {
      const res = await SELF.fetch(`http://127.0.0.1${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", "cf-connecting-ip": "127.0.0.1" },
        body: JSON.stringify({ offsetMs: 60_000 }),
      });
      expect(res.status).toBe(404);
      expect(await errorCode(res)).toBe("not_found");
    }
  });

  it("refuse a request that is not from this machine even when on", async () => {
    for (const [from, host] of [["203.0.113.7", "127.0.0.1"], ["127.0.0.1", "waiting-room.example"], ["", "127.0.0.1"]] as const) {
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (from) headers["cf-connecting-ip"] = from;
      const res = await withHooks("on", `http://${host}${CLOCK}`, { method: "POST", headers, body: JSON.stringify({ offsetMs: 1 }) });
      expect(res.status).toBe(403);
      expect(await errorCode(res)).toBe("invalid_request");
    }
  });

  it("are refused by the object itself while its binding is off", async () => {
    const address = freshShard();
    const stub = stubOf(address);
    await stub.snapshot();
    for (const fault of [{ clockOffsetMs: 60_000 }, { evict: true as const }]) {
      // Settled here: an RPC promise handed to expect().rejects is also reported as an unhandled rejection.
      const refusal = await stub.injectFault(fault).then(() => undefined, (err: unknown) => err);
      expect(String(refusal)).toMatch(/fault hooks are off/);
    }
    // Its clock is the runtime's still.
    const snap = await stub.snapshot();
    expect(Math.abs(snap.at - Date.now())).toBeLessThan(5_000);
  });
});
