import { SELF } from "cloudflare:test";
import fc from "fast-check";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { ticketSigningKey } from "../../src/edge/tokens/ticket.js";
import { TICKET_AUDIENCE } from "../../src/edge/tokens/ticket.js";
import { CLOSED_BIRTH_DATE, config, encodePart, errorCode, getStatus, idToken, join, jwtParts, OPEN_BIRTH_DATE, ORIGIN, postJoin, randomIdentity } from "./helpers.js";

/** Every bad input gets a 4xx in the one error shape; none yields a 5xx. */

describe("joining refuses bad input", () => {
  it("refuses malformed JSON", async () => {
    const res = await postJoin('{"idToken": ');
    expect(res.status).toBe(400);
    expect(await errorCode(res)).toBe("bad_json");
  });

  it("refuses wrong types, unknown fields, and the old typed identity", async () => {
    const token = await idToken(randomIdentity());
    for (const body of [
      // What anyone could type about someone else: no longer a way in.
      { identity: "+82-10-1234-5678", birthDate: OPEN_BIRTH_DATE },
      { identity: "+82-10-1234-5678", birthDate: OPEN_BIRTH_DATE, idToken: token },
      { idToken: token, birthDate: OPEN_BIRTH_DATE },
      { idToken: 123 },
      { idToken: "" },
      { idToken: "x".repeat(5_000) },
      {},
      [],
      null,
      JSON.stringify("text"),
    ]) {
      const res = await postJoin(body === null ? "null" : body);
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(await errorCode(res)).toBe("invalid_request");
    }
  });

  it("refuses bodies over 8 KB, declared or streamed", async () => {
    const big = JSON.stringify({ idToken: "x".repeat(9_000) });
    const declared = await postJoin(big);
    expect(declared.status).toBe(413);
    expect(await errorCode(declared)).toBe("payload_too_large");

    const stream = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 10; i++) controller.enqueue(new TextEncoder().encode("x".repeat(1_000)));
        controller.close();
      },
    });
    const streamed = await SELF.fetch(`${ORIGIN}/api/queue/join`, { method: "POST", headers: { "content-type": "application/json" }, body: stream });
    expect(streamed.status).toBe(413);
    expect(await errorCode(streamed)).toBe("payload_too_large");
  });

  it("refuses a body that is not JSON", async () => {
    const res = await SELF.fetch(`${ORIGIN}/api/queue/join`, { method: "POST", headers: { "content-type": "text/plain" }, body: "idToken=x" });
    expect(res.status).toBe(415);
    expect(await errorCode(res)).toBe("unsupported_media_type");
  });

  it("refuses a verified birth year no cohort covers, and a cohort before it opens, saying when", async () => {
    const none = await postJoin({ idToken: await idToken(randomIdentity(), "1990-01-01") });
    expect(none.status).toBe(403);
    expect(await errorCode(none)).toBe("not_eligible");

    const early = await postJoin({ idToken: await idToken(randomIdentity(), CLOSED_BIRTH_DATE) });
    expect(early.status).toBe(409);
    const body = (await early.json()) as { error: { code: string; opensAt?: string; cohort?: string } };
    expect(body.error.code).toBe("cohort_not_open");
    expect(body.error.opensAt).toBe("2099-07-20T20:00:00+09:00");
    expect(body.error.cohort).toBe("50-52");
  });

  it("never answers arbitrary bodies with a 5xx", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.json(), fc.string(), fc.record({ idToken: fc.anything() }).map((v) => JSON.stringify(v)), fc.string().map((t) => JSON.stringify({ idToken: t }))),
        async (body) => {
          const res = await postJoin(body);
          expect(res.status).toBeLessThan(500);
          if (res.status >= 400) await errorCode(res);
          else await res.body?.cancel();
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe("status refuses tickets we did not issue", () => {
  async function statusCode(ticket: string | undefined, headers: Record<string, string> = {}) {
    const res = ticket === undefined
      ? await SELF.fetch(`${ORIGIN}/api/queue/status`, { headers })
      : await getStatus(ticket);
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
    return errorCode(res);
  }

  it("refuses a missing or garbled ticket", async () => {
    expect(await statusCode(undefined)).toBe("invalid_ticket");
    expect(await statusCode(undefined, { authorization: "Basic abc" })).toBe("invalid_ticket");
    expect(await statusCode("not.a.jwt")).toBe("invalid_ticket");
    expect(await statusCode("x".repeat(5_000))).toBe("invalid_ticket");
  });

  it("refuses a ticket whose sequence number was changed", async () => {
    const { ticket } = await join(randomIdentity());
    const { header, payload, signature } = jwtParts(ticket);
    const moved = `${encodePart(header)}.${encodePart({ ...payload, seq: (payload.seq as number) === 1 ? 2 : 1 })}.${signature}`;
    expect(await statusCode(moved)).toBe("invalid_ticket");
  });

  it("refuses a ticket signed with another key, with alg none, or expired", async () => {
    const { ticket } = await join(randomIdentity());
    const { payload } = jwtParts(ticket);
    const otherKey = crypto.getRandomValues(new Uint8Array(32));
    const forged = await new SignJWT(payload).setProtectedHeader({ alg: "HS256" }).sign(otherKey);
    expect(await statusCode(forged)).toBe("invalid_ticket");

    const none = `${encodePart({ alg: "none", typ: "JWT" })}.${encodePart(payload)}.`;
    expect(await statusCode(none)).toBe("invalid_ticket");

    const now = Math.floor(Date.now() / 1000);
    const expired = await new SignJWT({ ...payload, iat: now - 100, exp: now - 10 })
      .setProtectedHeader({ alg: "HS256" })
      .sign(await ticketSigningKey(config.citizenKeySecret));
    expect(await statusCode(expired)).toBe("invalid_ticket");

    // The real key, but a pass's audience: a pass is not a ticket.
    const wrongAudience = await new SignJWT({ ...payload, aud: "booking-origin" })
      .setProtectedHeader({ alg: "HS256" })
      .sign(await ticketSigningKey(config.citizenKeySecret));
    expect(await statusCode(wrongAudience)).toBe("invalid_ticket");
    expect(TICKET_AUDIENCE).not.toBe("booking-origin");
  });
});

describe("unknown endpoints and wrong methods", () => {
  it("answer 404 in the error shape", async () => {
    for (const [method, path] of [["GET", "/api/nothing"], ["POST", "/api/queue/status/x"], ["GET", "/.well-known/nothing"]] as const) {
      const res = await SELF.fetch(`${ORIGIN}${path}`, { method });
      expect(res.status).toBe(404);
      expect(await errorCode(res)).toBe("not_found");
    }
  });

  it("a known path asked with a method it does not answer is a 405 naming the ones it does, before any check", async () => {
    for (const [method, path, allow] of [
      ["GET", "/api/queue/join", "POST"],
      ["PUT", "/api/queue/status", "GET, HEAD"],
      ["DELETE", "/api/slots", "GET, HEAD"],
      // No pass: the method is wrong whoever asks, so the pass check never runs.
      ["PUT", "/api/bookings", "POST"],
      ["POST", "/auth/login", "GET, HEAD"],
      ["PATCH", "/.well-known/jwks.json", "GET, HEAD"],
    ] as const) {
      const res = await SELF.fetch(`${ORIGIN}${path}`, { method, ...(method === "GET" ? {} : { body: "{}", headers: { "content-type": "application/json" } }) });
      expect(res.status, `${method} ${path}`).toBe(405);
      expect(res.headers.get("allow")).toBe(allow);
      expect(await errorCode(res)).toBe("method_not_allowed");
    }
  });
});
