import { describe, expect, it } from "vitest";
import type { Booking } from "../../src/contract/booking.js";
import { backends } from "./support/backends.js";
import { bookingOf, cancel, createSlot, errorOf, move, postBooking, seatLedger } from "./support/origin.js";
import { newCitizen } from "./support/passes.js";
import { originSuite } from "./support/suite.js";

/**
 * Moves, bookings and cancels racing on the same slots, 200 at a time. Whatever the interleaving, each
 * slot's seat count must equal the live bookings in it and never pass its capacity (nothing oversold,
 * no seat lost), no request may fail with a 5xx (a deadlock would), and every answer must agree with
 * what the database ends up holding.
 */
describe.each(backends)("changing bookings under concurrency ($name)", (backend) => {
  const origin = originSuite(backend, { poolSize: 10 });
  const { passFor, bookedCitizen } = origin;

  /** `n` citizens, each with a pass and a booking in `slotId`. */
  const holders = (n: number, slotId: number) => Promise.all(Array.from({ length: n }, () => bookedCitizen({ slotId })));

  const balanced = (ledger: Awaited<ReturnType<typeof seatLedger>>) => {
    for (const slot of ledger) {
      expect(slot.booked, `slot ${slot.slotId}`).toBe(slot.live);
      expect(slot.booked, `slot ${slot.slotId}`).toBeLessThanOrEqual(slot.capacity);
    }
  };

  it("moves exactly as many of 200 citizens as the new slot has seats", async () => {
    const [from, to] = [await createSlot(origin.db, 200), await createSlot(origin.db, 50)];
    const citizens = await holders(200, from);

    const answers = await Promise.all(citizens.map((c) => move(origin.app, c.pass, c.booking.id, { slotId: to })));

    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(50);
    expect(statuses.filter((s) => s === 409)).toHaveLength(150);
    const refusals = await Promise.all(answers.filter((r) => r.status === 409).map(errorOf));
    expect(new Set(refusals.map((e) => e.code))).toEqual(new Set(["slot_full"]));
    expect(await seatLedger(origin.db, [from, to])).toEqual([
      { slotId: from, booked: 150, capacity: 200, live: 150 },
      { slotId: to, booked: 50, capacity: 50, live: 50 },
    ]);
  });

  it("lets 200 citizens cross between two slots in both directions without deadlock, oversell or a lost seat", async () => {
    // Room for some of them: a move takes a seat another move has freed only once that one commits.
    const [a, b] = [await createSlot(origin.db, 130), await createSlot(origin.db, 130)];
    const inA = await holders(100, a);
    const inB = await holders(100, b);

    const answers = await Promise.all([
      ...inA.map((c) => move(origin.app, c.pass, c.booking.id, { slotId: b })),
      ...inB.map((c) => move(origin.app, c.pass, c.booking.id, { slotId: a })),
    ]);

    // Two moves crossing lock the same two slot rows; in opposite orders they would deadlock, and
    // Postgres would end one of them with an error (a 503 here).
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s !== 200 && s !== 409)).toEqual([]);
    const moved = statuses.filter((s) => s === 200).length;
    expect(moved).toBeGreaterThanOrEqual(60);
    const ledger = await seatLedger(origin.db, [a, b]);
    balanced(ledger);
    expect(ledger[0]!.booked + ledger[1]!.booked).toBe(200);
  });

  it("keeps the seats in balance through 200 mixed moves, bookings, cancels and rebookings on three slots", async () => {
    const [a, b, c] = [await createSlot(origin.db, 40), await createSlot(origin.db, 30), await createSlot(origin.db, 20)];
    const slotIds = [a, b, c] as const;
    const inA = await holders(40, a);
    const inB = await holders(20, b);
    const newcomers = await Promise.all(Array.from({ length: 80 }, () => passFor(newCitizen())));

    const pick = (i: number) => slotIds[i % 3]!;
    type Step = { kind: string; res: Response };
    const steps: Array<Promise<Step>> = [
      // 60 holders: a third move, a third cancel, a third cancel and book again with the same pass.
      ...[...inA, ...inB].map(async (holder, i): Promise<Step> => {
        if (i % 3 === 0) return { kind: "move", res: await move(origin.app, holder.pass, holder.booking.id, { slotId: pick(i + 1) }) };
        if (i % 3 === 1) return { kind: "cancel", res: await cancel(origin.app, holder.pass, holder.booking.id) };
        await cancel(origin.app, holder.pass, holder.booking.id);
        return { kind: "rebook", res: await postBooking(origin.app, holder.pass, { slotId: pick(i) }) };
      }),
      // 60 holders race a move against a cancel of the same booking.
      ...[...inA, ...inB].map(async (holder, i): Promise<Step> => ({ kind: "move", res: await move(origin.app, holder.pass, holder.booking.id, { slotId: pick(i + 2) }) })),
      // 80 newcomers book.
      ...newcomers.map(async (pass, i): Promise<Step> => ({ kind: "book", res: await postBooking(origin.app, pass, { slotId: pick(i) }) })),
    ];
    expect(steps).toHaveLength(200);
    const answers = await Promise.all(steps);

    const failures = answers.filter(({ res }) => res.status >= 500);
    expect(failures.map(({ kind, res }) => `${kind} ${res.status}`)).toEqual([]);
    const ledger = await seatLedger(origin.db, slotIds);
    balanced(ledger);
    // The live bookings are exactly those the answers promised: the 20 holders who only moved, and every
    // booking and rebooking told 201. Nothing is kept that a citizen was told failed, nor lost that succeeded.
    const created: Booking[] = await Promise.all(answers.filter(({ kind, res }) => kind !== "move" && kind !== "cancel" && res.status === 201).map(({ res }) => bookingOf(res)));
    expect(created.every((bk) => bk.status === "booked")).toBe(true);
    expect(ledger.reduce((n, s) => n + s.live, 0)).toBe(20 + created.length);
  });

  it("frees the right seat when a move and a cancel of one booking race, 100 times over", async () => {
    const [from, to] = [await createSlot(origin.db, 100), await createSlot(origin.db, 100)];
    const citizens = await holders(100, from);

    const answers = await Promise.all(
      citizens.flatMap((c) => [move(origin.app, c.pass, c.booking.id, { slotId: to }), cancel(origin.app, c.pass, c.booking.id)]),
    );

    expect(answers.map((r) => r.status).filter((s) => s !== 200 && s !== 409)).toEqual([]);
    // Whichever came first, every booking ends cancelled and neither slot keeps a seat for it.
    expect(await seatLedger(origin.db, [from, to])).toEqual([
      { slotId: from, booked: 0, capacity: 100, live: 0 },
      { slotId: to, booked: 0, capacity: 100, live: 0 },
    ]);
  });
});
