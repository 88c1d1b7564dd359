import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backends, type TestDatabase } from "./support/backends.js";
import { newCitizen, passClaimsFor, signPass, type PassKeys } from "./support/passes.js";
import { bookingOf, createSlot, errorOf, getMyBooking, postBooking, seatsTaken, type OriginApp, openOrigin } from "./support/origin.js";

describe.each(backends)("booking requests ($name)", (backend) => {
  let database: TestDatabase;
  let keys: PassKeys;
  let app: OriginApp;
  let slotId: number;

  beforeAll(async () => {
    ({ database, keys, app } = await openOrigin(backend));
    slotId = await createSlot(database.db, 100, "26");
  });
  afterAll(() => database?.close());

  const post = async (init: { body?: BodyInit; contentType?: string }) =>
    app.request("/api/bookings", {
      method: "POST",
      headers: {
        Authorization: `Bearer ${await signPass(keys)}`,
        ...(init.contentType ? { "Content-Type": init.contentType } : {}),
      },
      ...(init.body === undefined ? {} : { body: init.body }),
    });

  it("books with 201 and the booking, its slot and clinic", async () => {
    const res = await postBooking(app, await signPass(keys), { slotId });

    expect(res.status).toBe(201);
    const booking = await bookingOf(res);
    expect(booking).toMatchObject({ status: "booked", cohort: "55-59", slot: { id: slotId, clinic: { region: "26" } } });
    expect(new Date(booking.createdAt).toISOString()).toBe(booking.createdAt);
  });

  it("answers the citizen's booking at /me, and 404 booking_not_found when there is none", async () => {
    const sub = newCitizen();
    const pass = await signPass(keys, passClaimsFor({ sub }));
    const none = await getMyBooking(app, pass);
    expect(none.status).toBe(404);
    expect((await errorOf(none)).code).toBe("booking_not_found");

    const made = await bookingOf(await postBooking(app, pass, { slotId }));
    const laterPass = await signPass(keys, passClaimsFor({ sub }));

    const mine = await getMyBooking(app, laterPass);
    expect(mine.status).toBe(200);
    expect((await bookingOf(mine)).id).toBe(made.id);
  });

  it("answers 409 already_booked, naming the booking held, to a citizen who books twice", async () => {
    const sub = newCitizen();
    const held = await bookingOf(await postBooking(app, await signPass(keys, passClaimsFor({ sub })), { slotId }));

    const res = await postBooking(app, await signPass(keys, passClaimsFor({ sub })), { slotId });

    expect(res.status).toBe(409);
    const error = await errorOf(res);
    expect(error.code).toBe("already_booked");
    expect(error.booking).toEqual(held);
  });

  it("answers a retry of the same request (same pass, same slot) with the booking it made, as a success", async () => {
    const pass = await signPass(keys, passClaimsFor({ sub: newCitizen() }));
    const made = await bookingOf(await postBooking(app, pass, { slotId }));

    const retry = await postBooking(app, pass, { slotId });

    expect(retry.status).toBe(200);
    expect(await bookingOf(retry)).toEqual(made);
  });

  it("tells a second tab's request (same pass, another slot) that it booked nothing, naming the booking held", async () => {
    const pass = await signPass(keys, passClaimsFor({ sub: newCitizen() }));
    const otherSlot = await createSlot(database.db, 5, "26");
    const made = await bookingOf(await postBooking(app, pass, { slotId }));

    const secondTab = await postBooking(app, pass, { slotId: otherSlot });

    expect(secondTab.status).toBe(409);
    const error = await errorOf(secondTab);
    expect(error.code).toBe("already_booked");
    expect(error.booking).toEqual(made);
    expect(await seatsTaken(database.db, otherSlot)).toBe(0);
    expect(await bookingOf(await getMyBooking(app, pass))).toEqual(made);
  });

  it("lets the same citizen hold one booking in each cohort", async () => {
    const sub = newCitizen();
    const a = await postBooking(app, await signPass(keys, passClaimsFor({ sub, cohort: "55-59" })), { slotId });
    const b = await postBooking(app, await signPass(keys, passClaimsFor({ sub, cohort: "53-54" })), { slotId });

    expect([a.status, b.status]).toEqual([201, 201]);
  });

  it.each([
    ["an unknown slot", { slotId: 987_654 }],
    ["a slot id beyond any the database can hold", { slotId: 2 ** 31 }],
  ])("answers 404 not_found for %s", async (_, body) => {
    const res = await postBooking(app, await signPass(keys), body);

    expect(res.status).toBe(404);
    expect((await errorOf(res)).code).toBe("not_found");
  });

  it.each([
    ["malformed JSON", "{slotId: 1", "bad_json"],
    ["an empty body", "", "bad_json"],
    ["a missing slotId", "{}", "invalid_request"],
    ["a slotId given as text", '{"slotId":"1"}', "invalid_request"],
    ["a fractional slotId", '{"slotId":1.5}', "invalid_request"],
    ["a negative slotId", '{"slotId":-1}', "invalid_request"],
    ["an extra field (the citizen comes from the pass)", '{"slotId":1,"citizen":"someone"}', "invalid_request"],
    ["an array", "[1]", "invalid_request"],
  ])("answers 400 to %s", async (_, body, code) => {
    const res = await post({ body, contentType: "application/json" });

    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe(code);
  });

  it("answers 415 to a body that is not JSON", async () => {
    for (const contentType of ["text/plain", "application/x-www-form-urlencoded", undefined]) {
      const res = await post({ body: `slotId=${slotId}`, ...(contentType ? { contentType } : {}) });
      expect(res.status).toBe(415);
      expect((await errorOf(res)).code).toBe("unsupported_media_type");
    }
  });

  it("answers 413 to a body over 8 KB, declared or not", async () => {
    const big = JSON.stringify({ slotId, padding: "x".repeat(9000) });
    const headers = { Authorization: `Bearer ${await signPass(keys)}`, "Content-Type": "application/json" };
    const declared = await app.request("/api/bookings", {
      method: "POST",
      headers: { ...headers, "Content-Length": String(big.length) },
      body: big,
    });
    // Streamed without a length, so only counting while reading can stop it.
    const streamedInit: RequestInit & { duplex: "half" } = {
      method: "POST",
      headers,
      body: new Blob([big]).stream(),
      duplex: "half",
    };
    const streamed = await app.request(new Request("http://origin.test/api/bookings", streamedInit));

    for (const res of [declared, streamed]) {
      expect(res.status).toBe(413);
      expect((await errorOf(res)).code).toBe("payload_too_large");
    }
  });

  it("answers 404 not_found in the error shape for a path the API does not have", async () => {
    const res = await app.request("/api/nothing-here");

    expect(res.status).toBe(404);
    expect((await errorOf(res)).code).toBe("not_found");
  });
});
