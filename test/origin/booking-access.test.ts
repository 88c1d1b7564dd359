import { describe, expect, it } from "vitest";
import { BOOKING_ACCESS_TTL_SECONDS } from "../../src/contract/booking-access.js";
import { backends } from "./support/backends.js";
import { bookingOf, cancel, createSlot, errorOf, getMyBooking, move, postBooking, seatsTaken } from "./support/origin.js";
import { newCitizen, signAccess } from "./support/passes.js";
import { originSuite } from "./support/suite.js";

describe.each(backends)("booking access at the origin ($name)", (backend) => {
  const origin = originSuite(backend);
  const { bookedCitizen } = origin;

  it("reads, moves and cancels the citizen's own booking, the seats moving as any change moves them", async () => {
    const { sub, slotId: oldSlot, booking } = await bookedCitizen();
    const newSlot = await createSlot(origin.db, 2);
    const access = await signAccess(origin.keys, sub);

    const mine = await getMyBooking(origin.app, access);
    expect(mine.status).toBe(200);
    expect((await bookingOf(mine)).id).toBe(booking.id);

    const moved = await move(origin.app, access, booking.id, { slotId: newSlot });
    expect(moved.status).toBe(200);
    expect((await bookingOf(moved)).slot.id).toBe(newSlot);
    expect([await seatsTaken(origin.db, oldSlot), await seatsTaken(origin.db, newSlot)]).toEqual([0, 1]);

    const cancelled = await cancel(origin.app, access, booking.id);
    expect(cancelled.status).toBe(200);
    expect((await bookingOf(cancelled)).status).toBe("cancelled");
    expect(await seatsTaken(origin.db, newSlot)).toBe(0);
  });

  it("never books: 403 insufficient_scope, for a citizen with a booking or without one, and nothing is written", async () => {
    const { sub } = await bookedCitizen();
    const slotId = await createSlot(origin.db, 3);
    for (const citizen of [sub, newCitizen()]) {
      const res = await postBooking(origin.app, await signAccess(origin.keys, citizen), { slotId });
      expect(res.status).toBe(403);
      expect(res.headers.get("www-authenticate")).toContain('error="insufficient_scope"');
      expect((await errorOf(res)).code).toBe("insufficient_scope");
    }
    expect(await seatsTaken(origin.db, slotId)).toBe(0);
  });

  it("reaches only its own citizen's booking in its own cohort", async () => {
    const { booking: theirs, slotId } = await bookedCitizen();
    const mine = await signAccess(origin.keys, newCitizen());
    const otherSlot = await createSlot(origin.db, 3);

    expect((await errorOf(await getMyBooking(origin.app, mine))).code).toBe("booking_not_found");
    expect((await errorOf(await move(origin.app, mine, theirs.id, { slotId: otherSlot }))).code).toBe("booking_not_found");
    expect((await errorOf(await cancel(origin.app, mine, theirs.id))).code).toBe("booking_not_found");
    expect(await seatsTaken(origin.db, slotId)).toBe(1);

    const { sub, booking } = await bookedCitizen();
    const otherCohort = await signAccess(origin.keys, sub, { cohort: "53-54" });
    expect((await errorOf(await cancel(origin.app, otherCohort, booking.id))).code).toBe("booking_not_found");
  });

  it("refuses booking access that expired, lives too long, lacks the scope or is dressed as a pass", async () => {
    const { sub, booking } = await bookedCitizen();
    const now = Math.floor(Date.now() / 1000);
    const refused = [
      await signAccess(origin.keys, sub, { iat: now - 700, nbf: now - 700, exp: now - 100 }),
      await signAccess(origin.keys, sub, { exp: now + BOOKING_ACCESS_TTL_SECONDS + 60 }),
      await signAccess(origin.keys, sub, { scope: "booking:book" }),
      // Booking access with a pass's `typ`: the pass check wants a place in the line (shard, seq).
      await signAccess(origin.keys, sub, {}, "JWT"),
    ];
    for (const token of refused) {
      const res = await cancel(origin.app, token, booking.id);
      expect(res.status).toBe(401);
      expect((await errorOf(res)).code).toBe("invalid_token");
    }
    expect((await bookingOf(await getMyBooking(origin.app, await signAccess(origin.keys, sub)))).status).toBe("booked");
  });
});
