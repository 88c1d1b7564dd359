import { describe, expect, it } from "vitest";
import { backends } from "./support/backends.js";
import { bookingOf, cancel, createSlot, errorOf, getMyBooking, move, postBooking, seatLedger, seatsTaken } from "./support/origin.js";
import { newCitizen } from "./support/passes.js";
import { originSuite } from "./support/suite.js";

describe.each(backends)("changing a booking's slot ($name)", (backend) => {
  const origin = originSuite(backend);
  const { passFor, bookedCitizen } = origin;

  it("moves the booking to another slot, freeing the old seat, and keeps its id", async () => {
    const { pass, slotId: oldSlot, booking } = await bookedCitizen();
    const newSlot = await createSlot(origin.db, 3);

    const res = await move(origin.app, pass, booking.id, { slotId: newSlot });

    expect(res.status).toBe(200);
    const moved = await bookingOf(res);
    expect(moved).toMatchObject({ id: booking.id, status: "booked", createdAt: booking.createdAt, slot: { id: newSlot, remaining: 2 } });
    expect(await seatsTaken(origin.db, oldSlot)).toBe(0);
    expect(await seatsTaken(origin.db, newSlot)).toBe(1);
    expect(await bookingOf(await getMyBooking(origin.app, pass))).toEqual(moved);
    // The pass's original request, arriving again, did not make the booking as it now is: 409 naming it where it is, nothing booked.
    const replay = await postBooking(origin.app, pass, { slotId: oldSlot });
    expect(replay.status).toBe(409);
    expect(await errorOf(replay)).toMatchObject({ code: "already_booked", booking: { id: booking.id, slot: { id: newSlot } } });
    expect(await seatLedger(origin.db, [oldSlot, newSlot])).toEqual([
      { slotId: oldSlot, booked: 0, capacity: 3, live: 0 },
      { slotId: newSlot, booked: 1, capacity: 3, live: 1 },
    ]);
  });

  it("refuses a full slot with slot_full and changes nothing", async () => {
    const { pass, slotId: oldSlot, booking } = await bookedCitizen();
    const fullSlot = await createSlot(origin.db, 1);
    await postBooking(origin.app, await passFor(newCitizen()), { slotId: fullSlot });

    const res = await move(origin.app, pass, booking.id, { slotId: fullSlot });

    expect(res.status).toBe(409);
    expect((await errorOf(res)).code).toBe("slot_full");
    expect((await bookingOf(await getMyBooking(origin.app, pass))).slot.id).toBe(oldSlot);
    expect(await seatsTaken(origin.db, oldSlot)).toBe(1);
    expect(await seatsTaken(origin.db, fullSlot)).toBe(1);
  });

  it("moves into a slot whose last seat another citizen has just freed", async () => {
    const { pass, booking } = await bookedCitizen();
    const holder = await bookedCitizen({ capacity: 1 });
    expect((await move(origin.app, pass, booking.id, { slotId: holder.slotId })).status).toBe(409);

    await cancel(origin.app, holder.pass, holder.booking.id);
    const res = await move(origin.app, pass, booking.id, { slotId: holder.slotId });

    expect(res.status).toBe(200);
    expect(await seatLedger(origin.db, [holder.slotId])).toEqual([{ slotId: holder.slotId, booked: 1, capacity: 1, live: 1 }]);
  });

  it("treats a move to the slot the booking already has as done, taking no second seat", async () => {
    // A full slot: a move that took a seat before noticing would be refused, or would overfill it.
    const { pass, slotId, booking } = await bookedCitizen({ capacity: 1 });

    const res = await move(origin.app, pass, booking.id, { slotId });

    expect(res.status).toBe(200);
    expect(await bookingOf(res)).toMatchObject({ id: booking.id, slot: { id: slotId, remaining: 0 } });
    expect(await seatsTaken(origin.db, slotId)).toBe(1);
  });

  it("answers not_found for a slot that does not exist, and changes nothing", async () => {
    const { pass, slotId, booking } = await bookedCitizen();

    for (const missing of [2_000_000_000, 2_147_483_647, 2_147_483_648]) {
      const res = await move(origin.app, pass, booking.id, { slotId: missing });
      expect(res.status).toBe(404);
      expect((await errorOf(res)).code).toBe("not_found");
    }
    expect((await bookingOf(await getMyBooking(origin.app, pass))).slot.id).toBe(slotId);
    expect(await seatsTaken(origin.db, slotId)).toBe(1);
  });

  it("refuses to move a cancelled booking with booking_cancelled", async () => {
    const { pass, slotId, booking } = await bookedCitizen();
    const newSlot = await createSlot(origin.db, 3);
    await cancel(origin.app, pass, booking.id);

    for (const target of [newSlot, slotId]) {
      const res = await move(origin.app, pass, booking.id, { slotId: target });
      expect(res.status).toBe(409);
      expect(await errorOf(res)).toMatchObject({ code: "booking_cancelled", booking: { id: booking.id, status: "cancelled" } });
    }
    expect(await seatsTaken(origin.db, slotId)).toBe(0);
    expect(await seatsTaken(origin.db, newSlot)).toBe(0);
  });

  it("does not let another citizen, or the same citizen in another cohort, move a booking, nor tell them it exists", async () => {
    const { sub, slotId, booking } = await bookedCitizen();
    const newSlot = await createSlot(origin.db, 3);

    const stranger = await move(origin.app, await passFor(newCitizen()), booking.id, { slotId: newSlot });
    const otherCohort = await move(origin.app, await passFor(sub, { cohort: "50-52" }), booking.id, { slotId: newSlot });
    const unknown = await move(origin.app, await passFor(sub), crypto.randomUUID(), { slotId: newSlot });
    const notAnId = await move(origin.app, await passFor(sub), "1", { slotId: newSlot });

    const answers = await Promise.all([stranger, otherCohort, unknown, notAnId].map(async (res) => ({ status: res.status, error: await errorOf(res) })));
    // The same words for someone else's booking and one that does not exist.
    expect(new Set(answers.map((a) => JSON.stringify(a)))).toEqual(new Set([JSON.stringify(answers[2])]));
    expect(answers[0]).toMatchObject({ status: 404, error: { code: "booking_not_found" } });
    expect(await seatsTaken(origin.db, slotId)).toBe(1);
    expect(await seatsTaken(origin.db, newSlot)).toBe(0);
  });

  it("lets the citizen move with a later pass of theirs, as cancelling does", async () => {
    const { sub, booking } = await bookedCitizen();
    const newSlot = await createSlot(origin.db, 3);

    const res = await move(origin.app, await passFor(sub), booking.id, { slotId: newSlot });

    expect(res.status).toBe(200);
    expect((await bookingOf(res)).slot.id).toBe(newSlot);
  });

  it("refuses a bad body in the error shape, and a request without a pass", async () => {
    const { pass, booking } = await bookedCitizen();
    for (const body of [{}, { slotId: "2" }, { slotId: 0 }, { slotId: 1.5 }, { slotId: 2, cohort: "50-52" }]) {
      const res = await move(origin.app, pass, booking.id, body);
      expect(res.status).toBe(400);
      expect((await errorOf(res)).code).toBe("invalid_request");
    }
    const anonymous = await origin.app.request(`/api/bookings/${booking.id}`, {
      method: "PATCH",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ slotId: 1 }),
    });
    expect(anonymous.status).toBe(401);
    expect((await errorOf(anonymous)).code).toBe("invalid_token");
  });
});
