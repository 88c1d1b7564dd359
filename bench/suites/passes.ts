/**
 * 4. Pass sign and verify per second, against a bare WebCrypto ECDSA P-256 (SHA-256) sign/verify loop.
 *
 * Measured inside workerd, in the edge Worker's own isolate: bench/workers/edge-bench.ts runs
 * `signPass` / `verifyPass` of src/edge/tokens/pass.ts (jose, ES256, claims checked) n times, or
 * `crypto.subtle.sign` / `verify` n times over the very bytes a pass signs, with the same key. A
 * Worker's clock does not move while it computes, so the bench process times the whole request; n is
 * chosen to make one loop last about `seconds / 5` seconds, next to which one local request is noise.
 */
import { getJson } from "../lib/edge-client.js";
import { startEdge } from "../lib/miniflare.js";
import { figure, series } from "../lib/report.js";
import type { Suite } from "../lib/suite.js";

type Op = "sign" | "verify" | "bare-sign" | "bare-verify";

async function loop(edgeUrl: string, op: Op, n: number): Promise<number> {
  const started = performance.now();
  const result = (await getJson(`${edgeUrl}/__bench/passes?op=${op}&n=${n}`, { method: "POST" })) as { ok: number };
  const seconds = (performance.now() - started) / 1000;
  if (result.ok !== n) throw new Error(`${op}: only ${result.ok} of ${n} succeeded`);
  return n / seconds;
}

export const passes: Suite = {
  name: "passes",
  title: "Pass sign and verify per second",
  async run(ctx) {
    const loopSeconds = Math.max(0.5, ctx.seconds / 5);
    const ops: Op[] = ["sign", "verify", "bare-sign", "bare-verify"];
    type Measured = { run: number; op: Op; n: number; perSecond: number };
    let runs: Measured[][];
    const edge = await startEdge({ bundle: "edge-bench", vars: { SHARDS: "1" } });
    try {
      // Calibrate (and warm up): how many operations make one loop last about loopSeconds.
      const sizes = {} as Record<Op, number>;
      for (const op of ops) {
        await loop(edge.url, op, 200);
        const rate = await loop(edge.url, op, 500);
        sizes[op] = Math.max(200, Math.round(rate * loopSeconds));
      }
      runs = await ctx.eachRun(async (run) => {
        const measured: Measured[] = [];
        for (const op of ops) measured.push({ run, op, n: sizes[op], perSecond: await loop(edge.url, op, sizes[op]) });
        const rate = (op: Op) => measured.find((m) => m.op === op)!.perSecond.toFixed(0);
        ctx.log(`run ${run + 1}: sign ${rate("sign")}/s (bare ${rate("bare-sign")}), verify ${rate("verify")}/s (bare ${rate("bare-verify")})`);
        return measured;
      });
    } finally {
      await edge.dispose();
    }
    const raw = runs.flat();
    const rates = Object.fromEntries(ops.map((op) => [op, raw.filter((r) => r.op === op).map((r) => r.perSecond)])) as Record<Op, number[]>;
    return {
      method:
        "Inside workerd (the edge Worker's isolate, via bench/workers/edge-bench.ts): signPass/verifyPass of src/edge/tokens/pass.ts (jose, ES256, " +
        "issuer/audience/claims checked) in a loop, against crypto.subtle.sign/verify (ECDSA P-256, SHA-256) over the same signing input with the same key. " +
        "Timed from the bench process around one request per loop.",
      settings: { loopSeconds },
      figures: [
        figure("passes.sign", series("4. Pass signs/s (jose, in workerd)", "/s", rates.sign), series("bare WebCrypto ECDSA P-256 sign/s", "/s", rates["bare-sign"]), "jose / bare"),
        figure("passes.verify", series("4. Pass verifies/s (jose, in workerd)", "/s", rates.verify), series("bare WebCrypto ECDSA P-256 verify/s", "/s", rates["bare-verify"]), "jose / bare"),
      ],
      raw,
      notes: ["The origin verifies passes again on Node (same jose code, Node's WebCrypto); that cost is inside figure 5."],
    };
  },
};
