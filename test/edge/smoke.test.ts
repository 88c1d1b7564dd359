import { env, SELF, runInDurableObject } from "cloudflare:test";
import { it, expect } from "vitest";
it("runs", async () => {
  const res = await SELF.fetch("https://x/");
  expect(res.status).toBe(200);
  const stub = env.QUEUE_SHARD.getByName("a");
  expect(await stub.ping()).toBe(1);
});
