import { and, count, countDistinct, eq, gte, inArray, lt, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { slotDatesResponse, slotsResponse } from "../../src/contract/booking.js";
import { regions } from "../../src/contract/regions.js";
import { clinics, slots } from "../../src/origin/db/schema.js";
import { SEED_DAYS, seedIfEmpty } from "../../src/origin/seed.js";
import { seoulDayStart } from "../../src/origin/slot-store.js";
import { backends, type TestDatabase } from "./support/backends.js";
import { makePassKeys, signPass } from "./support/passes.js";
import { errorOf, originFor, postBooking, type OriginApp } from "./support/origin.js";

// 23:30 on 2021-07-25 UTC is 08:30 on the 26th in Seoul: the Seoul day, not the UTC one, is "today".
const NOW = new Date("2021-07-25T23:30:00Z");
const TODAY = "2021-07-26";
/** The Seoul day `n` days after TODAY. */
const dayAfter = (n: number) => new Date(Date.parse(`${TODAY}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);

describe.each(backends)("slots ($name)", (backend) => {
  let database: TestDatabase;
  let app: OriginApp;
  /** The origin reads slots only for a pass holder: the edge, which reads them with a citizen's pass. */
  let pass: string;

  beforeAll(async () => {
    database = await backend.open();
    const keys = await makePassKeys();
    pass = await signPass(keys);
    app = originFor(database.db, keys, { now: () => NOW });
    await seedIfEmpty(database.db, NOW);
  });
  afterAll(() => database?.close());

  const listSlots = async (query: string) => {
    const res = await app.request(`/api/slots${query}`, { headers: { authorization: `Bearer ${pass}` } });
    expect(res.status).toBe(200);
    return slotsResponse.parse(await res.json()).slots;
  };

  it("seeds clinics in all 17 regions and half-hour slots for a week, once", async () => {
    const [regionCount] = await database.db.select({ n: countDistinct(clinics.region) }).from(clinics);
    const [slotCount] = await database.db.select({ n: count() }).from(slots);
    const [clinicCount] = await database.db.select({ n: count() }).from(clinics);

    expect(regionCount?.n).toBe(regions.length);
    expect(slotCount?.n).toBe((clinicCount?.n ?? 0) * SEED_DAYS * 18);
    expect(await seedIfEmpty(database.db, NOW)).toBeUndefined();
  });

  it("lists a region's slots on a Seoul day, 09:00 to 17:30, with clinic and remaining seats", async () => {
    const listed = await listSlots(`?region=11&date=${TODAY}`);

    expect(listed.length).toBeGreaterThan(0);
    const seoulTimes = new Set<string>();
    for (const slot of listed) {
      expect(slot.clinic.region).toBe("11");
      expect(slot.clinic.address).toMatch(/^서울특별시 /);
      expect(slot.remaining).toBe(slot.capacity);
      expect(slot.capacity).toBeGreaterThanOrEqual(6);
      expect(slot.capacity).toBeLessThanOrEqual(20);
      const seoul = new Date(Date.parse(slot.startsAt) + 9 * 3600_000).toISOString();
      expect(seoul.slice(0, 10)).toBe(TODAY);
      seoulTimes.add(seoul.slice(11, 16));
    }
    expect([...seoulTimes].sort()).toEqual(
      Array.from({ length: 18 }, (_, i) => `${String(9 + Math.floor(i / 2)).padStart(2, "0")}:${i % 2 ? "30" : "00"}`),
    );
  });

  it("shows a booked seat as one fewer remaining", async () => {
    const [slot] = await listSlots(`?region=50&date=${TODAY}`);
    const keys = await makePassKeys();
    const booking = originFor(database.db, keys, { now: () => NOW });

    expect((await postBooking(booking, await signPass(keys), { slotId: slot!.id })).status).toBe(201);

    const after = (await listSlots(`?region=50&date=${TODAY}`)).find((s) => s.id === slot!.id);
    expect(after?.remaining).toBe(slot!.remaining - 1);
  });

  it("lists nothing on a day without slots, and only slots still to come when no day is given", async () => {
    expect(await listSlots("?date=2021-08-30")).toEqual([]);
    const upcoming = await listSlots("?region=36");
    expect(upcoming.length).toBeGreaterThan(0);
    for (const slot of upcoming) expect(Date.parse(slot.startsAt)).toBeGreaterThanOrEqual(NOW.getTime());
  });

  it.each([
    ["an unknown region", "?region=99"],
    ["a date that does not exist", "?date=2021-02-30"],
    ["a date in another format", "?date=26.07.2021"],
  ])("answers 400 invalid_request to %s", async (_, query) => {
    const res = await app.request(`/api/slots${query}`, { headers: { authorization: `Bearer ${pass}` } });

    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe("invalid_request");
  });

  describe("the days with free seats", () => {
    const listDates = async (query: string, at: Date = NOW) => {
      const res = await originFor(database.db, keys, { now: () => at }).request(`/api/slots/dates${query}`, { headers: { authorization: `Bearer ${datesPass}` } });
      expect(res.status).toBe(200);
      return slotDatesResponse.parse(await res.json()).dates;
    };
    let keys: Awaited<ReturnType<typeof makePassKeys>>;
    let datesPass: string;
    beforeAll(async () => {
      keys = await makePassKeys();
      datesPass = await signPass(keys);
    });

    /** Fills every slot of a region on a Seoul day, as bookings would. */
    async function fill(region: string, date: string) {
      const start = seoulDayStart(date);
      const ids = database.db.select({ id: clinics.id }).from(clinics).where(eq(clinics.region, region));
      await database.db
        .update(slots)
        .set({ booked: sql`${slots.capacity}` })
        .where(and(inArray(slots.clinicId, ids), gte(slots.startsAt, start), lt(slots.startsAt, new Date(start.getTime() + 86_400_000))));
    }

    it("lists a region's days from today in Korea, with the seats free on each", async () => {
      const dates = await listDates("?region=27");
      expect(dates.map((d) => d.date)).toEqual(Array.from({ length: SEED_DAYS }, (_, i) => dayAfter(i)));
      // Today's seats are counted from slots still to come: at 08:30, all of them.
      const today = await listSlots(`?region=27&date=${TODAY}`);
      expect(dates[0]!.remaining).toBe(today.reduce((sum, s) => sum + s.remaining, 0));
    });

    it("starts on tomorrow once today's last slot has begun, and skips a day whose every seat is taken", async () => {
      // 17:45 in Seoul: the 17:30 slot has begun, nothing is left to book today.
      const evening = new Date(`${TODAY}T17:45:00+09:00`);
      expect((await listDates("?region=28", evening))[0]!.date).toBe(dayAfter(1));
      // 17:15: the 17:30 slot is still to come, so today still counts, with that slot's seats alone.
      const late = await listDates("?region=28", new Date(`${TODAY}T17:15:00+09:00`));
      const lastSlots = (await listSlots(`?region=28&date=${TODAY}`)).filter((s) => Date.parse(s.startsAt) >= Date.parse(`${TODAY}T17:15:00+09:00`));
      expect(late[0]).toEqual({ date: TODAY, remaining: lastSlots.reduce((sum, s) => sum + s.remaining, 0) });

      await fill("28", dayAfter(1));
      expect((await listDates("?region=28", evening))[0]!.date).toBe(dayAfter(2));
      // Another region is untouched.
      expect((await listDates("?region=29", evening))[0]!.date).toBe(dayAfter(1));
    });

    it("is empty when no day has a free seat left", async () => {
      for (let day = 0; day < SEED_DAYS; day++) await fill("31", dayAfter(day));
      expect(await listDates("?region=31")).toEqual([]);
    });

    it.each([
      ["no region", ""],
      ["an unknown region", "?region=99"],
    ])("answers 400 invalid_request to %s", async (_, query) => {
      const res = await app.request(`/api/slots/dates${query}`, { headers: { authorization: `Bearer ${pass}` } });
      expect(res.status).toBe(400);
      expect((await errorOf(res)).code).toBe("invalid_request");
    });
  });
});
