import { describe, expect, it } from "vitest";
import { slotsResponse } from "../../src/contract/booking.js";
import { backends } from "./support/backends.js";
import { cancel, createSlot, errorOf, move, postBooking, seatLedger } from "./support/origin.js";
import { newCitizen } from "./support/passes.js";
import { originSuite } from "./support/suite.js";

/**
 * A slot's seats counted after every step: the seats it has taken are exactly its live bookings, what a
 * citizen is shown as remaining is its capacity less those, and a full slot stays at its capacity. The
 * counts themselves are asserted, so a seat update that oversold (or lost a seat) shows here as a wrong
 * number, not only as the 500 the schema's CHECK would turn it into.
 */
describe.each(backends)("the seat count ($name)", (backend) => {
  const origin = originSuite(backend);
  const { passFor, bookedCitizen } = origin;

  it("is the live bookings, step by step, through bookings, refusals, moves both ways and cancels", async () => {
    // Two slots of two seats; `a` has the lower id, so moves run in both lock orders (take then free, free then take).
    const [a, b] = [await createSlot(origin.db, 2), await createSlot(origin.db, 2)];
    expect(a).toBeLessThan(b);
    const citizen = () => passFor(newCitizen());
    const [c1, c2, c3, c4, c5] = [await citizen(), await citizen(), await citizen(), await citizen(), await citizen()];
    const bookingIds = new Map<string, string>();
    const book = async (pass: string, slotId: number) => {
      const res = await postBooking(origin.app, pass, { slotId });
      if (res.status === 201) bookingIds.set(pass, ((await res.clone().json()) as { booking: { id: string } }).booking.id);
      return res;
    };
    const idOf = (pass: string) => {
      const id = bookingIds.get(pass);
      if (id === undefined) throw new Error("that citizen has not booked");
      return id;
    };

    const shown = async () => {
      const res = await origin.app.request("/api/slots?region=11&date=2031-07-26", { headers: { authorization: `Bearer ${c1}` } });
      expect(res.status).toBe(200);
      const listed = slotsResponse.parse(await res.json()).slots;
      return [a, b].map((id) => listed.find((s) => s.id === id)?.remaining);
    };

    const steps: Array<[step: string, act: () => Promise<Response>, status: number, taken: [a: number, b: number]]> = [
      ["c1 books a", () => book(c1, a), 201, [1, 0]],
      ["c2 books a, its last seat", () => book(c2, a), 201, [2, 0]],
      ["c3 books the full a", () => book(c3, a), 409, [2, 0]],
      ["c3 books b", () => book(c3, b), 201, [2, 1]],
      ["c3 moves into the full a (take before free)", () => move(origin.app, c3, idOf(c3), { slotId: a }), 409, [2, 1]],
      ["c1 moves to b, its last seat (free before take)", () => move(origin.app, c1, idOf(c1), { slotId: b }), 200, [1, 2]],
      ["c2 moves into the full b (free before take)", () => move(origin.app, c2, idOf(c2), { slotId: b }), 409, [1, 2]],
      ["c2 moves to the slot it has", () => move(origin.app, c2, idOf(c2), { slotId: a }), 200, [1, 2]],
      ["c2 cancels", () => cancel(origin.app, c2, idOf(c2)), 200, [0, 2]],
      ["c2 cancels again", () => cancel(origin.app, c2, idOf(c2)), 200, [0, 2]],
      ["c1 moves back to a (take before free)", () => move(origin.app, c1, idOf(c1), { slotId: a }), 200, [1, 1]],
      ["c4 books b, its last seat", () => book(c4, b), 201, [1, 2]],
      ["c5 books the full b", () => book(c5, b), 409, [1, 2]],
      ["c3 cancels in b", () => cancel(origin.app, c3, idOf(c3)), 200, [1, 1]],
      ["c5 books the seat c3 freed", () => book(c5, b), 201, [1, 2]],
    ];
    for (const [step, act, status, [takenA, takenB]] of steps) {
      const res = await act();
      expect(res.status, `${step}: ${await res.clone().text()}`).toBe(status);
      if (status === 409) expect((await errorOf(res)).code, step).toBe("slot_full");
      expect(await seatLedger(origin.db, [a, b]), step).toEqual([
        { slotId: a, booked: takenA, capacity: 2, live: takenA },
        { slotId: b, booked: takenB, capacity: 2, live: takenB },
      ]);
      expect(await shown(), step).toEqual([2 - takenA, 2 - takenB]);
    }
  });

  it("stays at the capacity when more citizens than seats book and move into a slot at once", async () => {
    const small = await createSlot(origin.db, 3);
    const elsewhere = await createSlot(origin.db, 20);
    const movers = await Promise.all(Array.from({ length: 10 }, () => bookedCitizen({ slotId: elsewhere })));
    const bookers = await Promise.all(Array.from({ length: 10 }, () => passFor(newCitizen())));

    const answers = await Promise.all([
      ...movers.map((m) => move(origin.app, m.pass, m.booking.id, { slotId: small })),
      ...bookers.map((pass) => postBooking(origin.app, pass, { slotId: small })),
    ]);

    const succeeded = answers.filter((r) => r.status === 200 || r.status === 201);
    expect(answers.map((r) => r.status).filter((s) => s !== 200 && s !== 201 && s !== 409)).toEqual([]);
    expect(succeeded).toHaveLength(3);
    const movedIn = answers.slice(0, movers.length).filter((r) => r.status === 200).length;
    expect(await seatLedger(origin.db, [small, elsewhere])).toEqual([
      { slotId: small, booked: 3, capacity: 3, live: 3 },
      { slotId: elsewhere, booked: 10 - movedIn, capacity: 20, live: 10 - movedIn },
    ]);
  });
});
