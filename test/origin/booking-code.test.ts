import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BOOKING_CODE_ALPHABET } from "../../src/contract/booking.js";
import { newBookingCode } from "../../src/origin/booking-code.js";
import { backends } from "./support/backends.js";
import { passClaimsFor, signPass, type PassKeys } from "./support/passes.js";
import { bookingOf, cancel, createSlot, getMyBooking, move, openOrigin, postBooking, type OriginApp } from "./support/origin.js";
import type { TestDatabase } from "./support/backends.js";

const CODE = new RegExp(`^[${BOOKING_CODE_ALPHABET}]{8}$`);

describe("a booking code", () => {
  it("is read out without doubt: 8 characters, none of 0, O, 1, I, L or U", () => {
    expect(BOOKING_CODE_ALPHABET).toHaveLength(30);
    expect(BOOKING_CODE_ALPHABET).not.toMatch(/[01OILU]/);
    expect(new Set(BOOKING_CODE_ALPHABET).size).toBe(30);
  });

  it("is drawn over the whole alphabet, each character about as often as another", () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 30_000; i++) {
      const code = newBookingCode();
      if (!CODE.test(code)) expect(code).toMatch(CODE);
      for (const ch of code) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    }
    // 240,000 characters over 30: 8,000 each on average, with a standard deviation near 90. A plain
    // `byte % 30` (the first 16 characters drawn 9 times in 256, the others 8) puts them near 8,440 and
    // 7,500, outside these bounds; chance alone stays inside them (4.5 deviations).
    expect(counts.size).toBe(30);
    for (const n of counts.values()) {
      expect(n).toBeGreaterThan(7_600);
      expect(n).toBeLessThan(8_400);
    }
  });
});

describe.each(backends)("booking codes at the origin ($name)", (backend) => {
  let database: TestDatabase;
  let keys: PassKeys;
  let app: OriginApp;

  beforeAll(async () => {
    ({ database, keys, app } = await openOrigin(backend));
  });
  afterAll(() => database?.close());

  it("gives every booking a code of its own, kept through a replay, a move and a cancel", async () => {
    const slotId = await createSlot(database.db, 200);
    const other = await createSlot(database.db, 5);
    const passes = await Promise.all(Array.from({ length: 120 }, () => signPass(keys, passClaimsFor())));
    const booked = await Promise.all(passes.map(async (pass) => bookingOf(await postBooking(app, pass, { slotId }))));
    for (const b of booked) expect(b.code).toMatch(CODE);
    expect(new Set(booked.map((b) => b.code)).size).toBe(booked.length);

    const [pass] = passes;
    const [mine] = booked;
    expect((await bookingOf(await postBooking(app, pass!, { slotId }))).code).toBe(mine!.code);
    expect((await bookingOf(await getMyBooking(app, pass!))).code).toBe(mine!.code);
    expect((await bookingOf(await move(app, pass!, mine!.id, { slotId: other }))).code).toBe(mine!.code);
    expect((await bookingOf(await cancel(app, pass!, mine!.id))).code).toBe(mine!.code);
    // Booking again after the cancel is a new booking, with a new code.
    const again = await bookingOf(await postBooking(app, pass!, { slotId }));
    expect(again.id).not.toBe(mine!.id);
    expect(again.code).toMatch(CODE);
    expect(again.code).not.toBe(mine!.code);
  });
});
