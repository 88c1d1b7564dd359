import { describe, expect, it } from "vitest";
import { backends } from "./support/backends.js";
import { bookingOf, cancel, createSlot, errorOf, getMyBooking, postBooking, seatsTaken } from "./support/origin.js";
import { newCitizen } from "./support/passes.js";
import { originSuite } from "./support/suite.js";

describe.each(backends)("cancelling a booking ($name)", (backend) => {
  const origin = originSuite(backend);
  const { passFor, bookedCitizen } = origin;

  it("frees the seat, so someone else can take a slot that was full", async () => {
    const { slotId, pass: holderPass, booking: held } = await bookedCitizen({ capacity: 1 });
    const latecomerPass = await passFor(newCitizen());
    expect((await errorOf(await postBooking(origin.app, latecomerPass, { slotId }))).code).toBe("slot_full");

    const res = await cancel(origin.app, holderPass, held.id);

    expect(res.status).toBe(200);
    const cancelled = await bookingOf(res);
    expect(cancelled).toMatchObject({ id: held.id, status: "cancelled" });
    expect(cancelled.slot.remaining).toBe(1);
    expect(await seatsTaken(origin.db, slotId)).toBe(0);
    expect((await postBooking(origin.app, latecomerPass, { slotId })).status).toBe(201);
  });

  it("lets the same live pass book again after a cancel, and replays name the new booking while it is live", async () => {
    const { pass, slotId: firstSlot, booking: first } = await bookedCitizen();
    const secondSlot = await createSlot(origin.db, 3);
    await cancel(origin.app, pass, first.id);
    expect((await getMyBooking(origin.app, pass)).status).toBe(404);

    const rebooked = await postBooking(origin.app, pass, { slotId: secondSlot });

    expect(rebooked.status).toBe(201);
    const second = await bookingOf(rebooked);
    expect(second).toMatchObject({ status: "booked", slot: { id: secondSlot } });
    expect(second.id).not.toBe(first.id);
    expect((await bookingOf(await getMyBooking(origin.app, pass))).id).toBe(second.id);
    // While the new booking is live, the pass's request for the first slot again books nothing and names it.
    const replay = await postBooking(origin.app, pass, { slotId: firstSlot });
    expect(replay.status).toBe(409);
    expect(await errorOf(replay)).toMatchObject({ code: "already_booked", booking: { id: second.id, status: "booked" } });
    expect(await seatsTaken(origin.db, firstSlot)).toBe(0);
    expect(await seatsTaken(origin.db, secondSlot)).toBe(1);
  });

  it("lets a cancelled citizen book again with a new pass", async () => {
    const { sub, pass: oldPass, slotId: firstSlot, booking: first } = await bookedCitizen();
    const secondSlot = await createSlot(origin.db, 3);
    await cancel(origin.app, oldPass, first.id);

    const newPass = await passFor(sub);
    const rebooked = await postBooking(origin.app, newPass, { slotId: secondSlot });

    expect(rebooked.status).toBe(201);
    const second = await bookingOf(rebooked);
    expect(second.id).not.toBe(first.id);
    expect((await bookingOf(await getMyBooking(origin.app, newPass))).id).toBe(second.id);
    // The old pass, still live, sees the citizen's booking; a POST with it is the citizen's second booking, refused.
    expect((await bookingOf(await getMyBooking(origin.app, oldPass))).id).toBe(second.id);
    const again = await postBooking(origin.app, oldPass, { slotId: firstSlot });
    expect(again.status).toBe(409);
    expect(await errorOf(again)).toMatchObject({ code: "already_booked", booking: { id: second.id } });
    expect(await seatsTaken(origin.db, firstSlot)).toBe(0);
    expect(await seatsTaken(origin.db, secondSlot)).toBe(1);
  });

  it("frees one seat however many times the same booking is cancelled at once", async () => {
    const { slotId } = await bookedCitizen({ capacity: 5 });
    const { pass, booking: mine } = await bookedCitizen({ slotId });

    const answers = await Promise.all(Array.from({ length: 10 }, () => cancel(origin.app, pass, mine.id)));

    expect(answers.map((r) => r.status)).toEqual(Array<number>(10).fill(200));
    expect(await seatsTaken(origin.db, slotId)).toBe(1);
  });

  it("does not let another citizen, or the same citizen in another cohort, cancel a booking", async () => {
    const { sub, slotId, booking: mine } = await bookedCitizen({ capacity: 5 });

    const stranger = await cancel(origin.app, await passFor(newCitizen()), mine.id);
    const otherCohort = await cancel(origin.app, await passFor(sub, { cohort: "50-52" }), mine.id);

    for (const res of [stranger, otherCohort]) {
      expect(res.status).toBe(404);
      expect((await errorOf(res)).code).toBe("booking_not_found");
    }
    expect(await seatsTaken(origin.db, slotId)).toBe(1);
  });

  it("answers booking_not_found for an id that is unknown or not an id at all", async () => {
    const pass = await passFor(newCitizen());
    for (const id of [crypto.randomUUID(), "not-a-uuid", "1"]) {
      const res = await cancel(origin.app, pass, id);
      expect(res.status).toBe(404);
      expect((await errorOf(res)).code).toBe("booking_not_found");
    }
  });
});
