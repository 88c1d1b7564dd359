// The baseline of the poll figures of `npm run bench -- polls`: the least answering a GET with JSON can
// cost on this runtime. GET /__plain/<bytes> answers a JSON object of exactly <bytes> bytes (the size of
// a real status answer, measured by the suite in the same run) with the headers a status answer carries;
// the request's Authorization header is sent as a poll sends it and never read. No Durable Object, no
// verification, no routing framework: the object is serialized per request, as a poll's answer is.
// Plain JavaScript on purpose, so it needs no bundling: Miniflare loads this file as it is.

/** `{"pad":""}`: the object's bytes before any padding. */
const EMPTY = JSON.stringify({ pad: "" }).length;

/** One object per size asked for (a load asks for one), so a request does no more than serialize it. */
const bodies = new Map();

export default {
  fetch(request) {
    const bytes = Number(request.url.slice(request.url.lastIndexOf("/") + 1));
    if (!Number.isInteger(bytes) || bytes < EMPTY || bytes > 65_536) return new Response("bytes must be a whole number from 10 to 65536", { status: 400 });
    let body = bodies.get(bytes);
    if (!body) {
      body = { pad: "x".repeat(bytes - EMPTY) };
      bodies.set(bytes, body);
    }
    return new Response(JSON.stringify(body), { headers: { "content-type": "application/json", "cache-control": "no-store" } });
  },
};
