// The baseline of `npm run bench -- joins`: the least a request into a Durable Object can cost on this
// runtime. A Worker reads the request body (as the edge reads a join) and makes one RPC call to a
// Durable Object that only increments an in-memory counter: no parsing, no crypto, no storage.
// Plain JavaScript on purpose, so it needs no bundling: Miniflare loads this file as it is.
import { DurableObject } from "cloudflare:workers";

export class BareCounter extends DurableObject {
  count = 0;

  increment() {
    this.count += 1;
    return this.count;
  }
}

export default {
  async fetch(request, env) {
    await request.text();
    const n = await env.BARE_COUNTER.getByName("bare").increment();
    return Response.json({ n });
  },
};
