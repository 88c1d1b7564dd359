import { describe, expect, it } from "vitest";
import { BOOKING_ACCESS_COOKIE } from "../../src/contract/booking-access.js";
import { PASS_COOKIE } from "../../src/contract/pass.js";
import { createOriginApp, originFetch, type OriginDeps, type OriginFetch } from "../../src/origin/app.js";
import type { Database } from "../../src/origin/db/database.js";
import { clinics, slots } from "../../src/origin/db/schema.js";
import { nodeSignatureCheck } from "../../src/origin/node-signature.js";
import { createCredentialVerifier } from "../../src/origin/pass-verifier.js";
import { backends, type Backend, type TestDatabase } from "./support/backends.js";
import { AUDIENCE, ISSUER, makePassKeys, newCitizen, PASS_TTL_SECONDS, passClaimsFor, signAccess, signPass, type PassKeys } from "./support/passes.js";

/**
 * The origin's fetch answers POST /api/bookings ahead of its Hono app (src/origin/routes/book.ts). Every
 * kind of booking request, asked of the origin's fetch on one database and of the app alone on another
 * seeded alike, gets the same answer: status, headers, body (the booking's random id and code and its
 * creation time aside), and the same database handles opened and let go.
 */

/** Two slots, the same ids in every fresh database: one with room, one with a single seat. */
async function seed(db: Database): Promise<{ roomy: number; single: number }> {
  const [clinic] = await db.insert(clinics).values({ name: "시험의원", region: "11", address: "서울특별시 중구 세종대로 1" }).returning({ id: clinics.id });
  const [roomy, single] = await db
    .insert(slots)
    .values([
      { clinicId: clinic!.id, startsAt: new Date("2031-07-26T09:00:00+09:00"), capacity: 10 },
      { clinicId: clinic!.id, startsAt: new Date("2031-07-26T10:00:00+09:00"), capacity: 1 },
    ])
    .returning({ id: slots.id });
  return { roomy: roomy!.id, single: single!.id };
}

interface Side {
  database: TestDatabase;
  fetch: OriginFetch;
  handles: { opened: number; done: number };
  slotIds: { roomy: number; single: number };
}

async function openSide(backend: Backend, keys: PassKeys, serve: (deps: OriginDeps) => OriginFetch): Promise<Side> {
  const database = await backend.open();
  const handles = { opened: 0, done: 0 };
  const fetch = serve({
    database: () => {
      handles.opened++;
      return { db: database.db, done: () => handles.done++ };
    },
    verifyCredential: createCredentialVerifier({ keys: { kind: "inline", jwks: keys.jwks }, issuer: ISSUER, audience: AUDIENCE, passTtlSeconds: PASS_TTL_SECONDS, signatureCheck: nodeSignatureCheck }),
    dbTimeoutMs: 10_000,
  });
  return { database, fetch, handles, slotIds: await seed(database.db) };
}

/** One request, built afresh for each side (a body is read once). */
interface Asked {
  what: string;
  request: (slotIds: Side["slotIds"]) => Request;
}

const URL_BASE = "http://origin.test";
const JSON_TYPE = { "content-type": "application/json" };

function post(path: string, headers: Record<string, string>, body: BodyInit | null): Request {
  // `duplex` lets a stream be the body (sent without a length); it changes nothing for the others.
  const init: RequestInit & { duplex: "half" } = { method: "POST", headers, body, duplex: "half" };
  return new Request(`${URL_BASE}${path}`, init);
}

/** The body with each booking's id, code and creation time named by first appearance, so two databases compare. */
function comparable(body: string, seen: Map<string, string>): string {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return body;
  }
  const stand = (v: unknown) => {
    const key = String(v);
    if (!seen.has(key)) seen.set(key, `<${seen.size + 1}>`);
    return seen.get(key);
  };
  const hide = (booking: Record<string, unknown> | undefined) => {
    if (!booking) return;
    for (const field of ["id", "code", "createdAt"]) if (field in booking) booking[field] = stand(booking[field]);
  };
  const parsed = value as { booking?: Record<string, unknown>; error?: { booking?: Record<string, unknown> } };
  hide(parsed.booking);
  hide(parsed.error?.booking);
  return JSON.stringify(value);
}

async function askAll(side: Side, asked: readonly Asked[]) {
  const seen = new Map<string, string>();
  const answers = [];
  for (const { what, request } of asked) {
    const before = { ...side.handles };
    const res = await side.fetch(request(side.slotIds));
    const body = await res.text();
    answers.push({
      what,
      status: res.status,
      headers: [...res.headers].filter(([name]) => name !== "date"),
      body: comparable(body, seen),
      handlesOpened: side.handles.opened - before.opened,
      handlesDone: side.handles.done - before.done,
    });
  }
  return answers;
}

describe.each(backends)("a booking answered ahead of the app ($name)", (backend) => {
  it("is answered as the app alone answers it, for every kind of booking request", async () => {
    const keys = await makePassKeys();
    const sub = newCitizen();
    const pass = await signPass(keys, passClaimsFor({ sub }));
    const samePersonAgain = await signPass(keys, passClaimsFor({ sub }));
    const [filler, late, encoded, expired, forged, access] = await Promise.all([
      signPass(keys),
      signPass(keys),
      signPass(keys),
      signPass(keys, passClaimsFor({ iat: 1_600_000_000, nbf: 1_600_000_000, exp: 1_600_000_900 })),
      makePassKeys().then((other) => signPass(other)),
      signAccess(keys, sub),
    ]);
    const bearer = (token: string) => ({ ...JSON_TYPE, authorization: `Bearer ${token}` });
    const big = JSON.stringify({ slotId: 1, padding: "x".repeat(9000) });

    const asked: Asked[] = [
      { what: "a new booking", request: (s) => post("/api/bookings", bearer(pass), JSON.stringify({ slotId: s.roomy })) },
      { what: "the same again", request: (s) => post("/api/bookings", bearer(pass), JSON.stringify({ slotId: s.roomy })) },
      { what: "the same again, pass as cookie", request: (s) => post("/api/bookings", { ...JSON_TYPE, cookie: `${PASS_COOKIE}=${pass}` }, JSON.stringify({ slotId: s.roomy })) },
      { what: "the same again, with a query", request: (s) => post("/api/bookings?from=page", bearer(pass), JSON.stringify({ slotId: s.roomy })) },
      { what: "already booked by another pass", request: (s) => post("/api/bookings", bearer(samePersonAgain), JSON.stringify({ slotId: s.roomy })) },
      { what: "the last seat", request: (s) => post("/api/bookings", bearer(filler), JSON.stringify({ slotId: s.single })) },
      { what: "a full slot", request: (s) => post("/api/bookings", bearer(late), JSON.stringify({ slotId: s.single })) },
      { what: "no such slot", request: () => post("/api/bookings", bearer(late), JSON.stringify({ slotId: 999_999 })) },
      { what: "a percent-encoded path", request: (s) => post("/api/%62ookings", bearer(encoded), JSON.stringify({ slotId: s.roomy })) },
      { what: "no credential", request: (s) => post("/api/bookings", JSON_TYPE, JSON.stringify({ slotId: s.roomy })) },
      { what: "not a Bearer header", request: (s) => post("/api/bookings", { ...JSON_TYPE, authorization: "Basic dXNlcjpwYXNz" }, JSON.stringify({ slotId: s.roomy })) },
      { what: "a pass another key signed", request: (s) => post("/api/bookings", bearer(forged), JSON.stringify({ slotId: s.roomy })) },
      { what: "an expired pass", request: (s) => post("/api/bookings", bearer(expired), JSON.stringify({ slotId: s.roomy })) },
      { what: "booking access", request: (s) => post("/api/bookings", bearer(access), JSON.stringify({ slotId: s.roomy })) },
      { what: "booking access as cookie", request: (s) => post("/api/bookings", { ...JSON_TYPE, cookie: `${BOOKING_ACCESS_COOKIE}=${access}` }, JSON.stringify({ slotId: s.roomy })) },
      { what: "a declared length over the limit", request: () => post("/api/bookings", { ...bearer(late), "content-length": "9000" }, "{}") },
      { what: "a declared length over the limit, no credential", request: () => post("/api/bookings", { ...JSON_TYPE, "content-length": "9000" }, "{}") },
      { what: "a malformed length", request: () => post("/api/bookings", { ...bearer(late), "content-length": "1e3" }, "{}") },
      { what: "a body over the limit, undeclared", request: () => post("/api/bookings", bearer(late), new Blob([big]).stream()) },
      { what: "bad JSON", request: () => post("/api/bookings", bearer(late), "{slotId: 1") },
      { what: "not UTF-8", request: () => post("/api/bookings", bearer(late), new Uint8Array([0x7b, 0xff, 0x7d])) },
      { what: "not JSON's content type", request: (s) => post("/api/bookings", { ...bearer(late), "content-type": "text/plain" }, JSON.stringify({ slotId: s.roomy })) },
      { what: "a body of the wrong shape", request: () => post("/api/bookings", bearer(late), JSON.stringify({ slotId: "one" })) },
      { what: "no body", request: () => post("/api/bookings", bearer(late), null) },
      { what: "HEAD", request: () => new Request(`${URL_BASE}/api/bookings`, { method: "HEAD", headers: bearer(late) }) },
      { what: "GET", request: () => new Request(`${URL_BASE}/api/bookings`, { headers: bearer(late) }) },
      { what: "PUT", request: (s) => new Request(`${URL_BASE}/api/bookings`, { method: "PUT", headers: bearer(late), body: JSON.stringify({ slotId: s.roomy }) }) },
      { what: "a trailing slash", request: (s) => post("/api/bookings/", bearer(late), JSON.stringify({ slotId: s.roomy })) },
      { what: "a longer path", request: (s) => post("/api/bookingsx", bearer(late), JSON.stringify({ slotId: s.roomy })) },
    ];

    const ahead = await openSide(backend, keys, originFetch);
    const alone = await openSide(backend, keys, (deps) => createOriginApp(deps).fetch);
    try {
      expect(ahead.slotIds).toEqual(alone.slotIds);
      const answers = await askAll(ahead, asked);
      expect(answers).toEqual(await askAll(alone, asked));
      // The answers are the ones each request is meant to get, so the two cannot agree by both going wrong.
      expect(answers.map((a) => `${a.what}: ${a.status}`)).toEqual([
        "a new booking: 201",
        "the same again: 200",
        "the same again, pass as cookie: 200",
        "the same again, with a query: 200",
        "already booked by another pass: 409",
        "the last seat: 201",
        "a full slot: 409",
        "no such slot: 404",
        "a percent-encoded path: 201",
        "no credential: 401",
        "not a Bearer header: 401",
        "a pass another key signed: 401",
        "an expired pass: 401",
        "booking access: 403",
        "booking access as cookie: 403",
        "a declared length over the limit: 413",
        "a declared length over the limit, no credential: 413",
        "a malformed length: 400",
        "a body over the limit, undeclared: 413",
        "bad JSON: 400",
        "not UTF-8: 400",
        "not JSON's content type: 415",
        "a body of the wrong shape: 400",
        "no body: 400",
        "HEAD: 405",
        "GET: 405",
        "PUT: 405",
        "a trailing slash: 404",
        "a longer path: 404",
      ]);
    } finally {
      await ahead.database.close();
      await alone.database.close();
    }
  });
});
