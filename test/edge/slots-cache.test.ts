import { SELF } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { newTicketId } from "../../src/edge/tokens/ticket.js";
import { signPass } from "../../src/edge/tokens/pass.js";
import { SLOTS_TTL_MS } from "../../src/edge/gate/slot-cache.js";
import { config, errorCode, forgetOriginHealth, ORIGIN } from "./helpers.js";

/**
 * Slot availability served from the edge's cache: many citizens reading the same (region, date) within the
 * cache's time-to-live cost the origin one read, each still with their pass verified first; a booking is
 * never cached. The origin is played by a stub of the Worker's outbound fetch that counts the reads that
 * reach it (nothing listens at ORIGIN_URL in these tests). Each test reads dates no other test reads, so
 * what one test cached is never another's.
 */

let day = 0;
/** A date no other test of this file reads. */
function freshDate(): string {
  day++;
  return `2031-${String(1 + Math.floor(day / 28)).padStart(2, "0")}-${String(1 + (day % 28)).padStart(2, "0")}`;
}

function passFor(): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return signPass(config, { sub: `citizen-${crypto.randomUUID()}`, jti: newTicketId(), cohort: "55-59", shard: 0, seq: 1, iat: now, exp: now + 600 });
}

/** Plays the origin: answers slot reads with a list naming the query, bookings with `booking`. */
function origin(booking: { status: number; body: unknown } = { status: 201, body: {} }, slotStatus = 200) {
  const reads: string[] = [];
  const bookings: string[] = [];
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
    if (url.pathname === "/api/slots/dates") {
      reads.push(`dates${url.search}`);
      return json(200, { dates: [{ date: "2031-12-01", remaining: 100 - reads.length }] });
    }
    if (url.pathname === "/api/slots") {
      reads.push(url.search);
      if (slotStatus !== 200) return json(slotStatus, { error: { code: "internal", message: "failing on purpose" } });
      const slot = { id: reads.length, clinic: { id: 1, name: "시험의원", region: url.searchParams.get("region") ?? "11", address: "서울특별시" }, startsAt: `${url.searchParams.get("date")}T00:00:00.000Z`, capacity: 10, remaining: 10 - reads.length };
      return json(200, { slots: [slot] });
    }
    bookings.push(`${request.method} ${url.pathname}`);
    return json(booking.status, booking.body);
  });
  return { reads, bookings };
}

const read = (query: string, pass: string | undefined) =>
  SELF.fetch(`${ORIGIN}/api/slots${query}`, { headers: pass === undefined ? {} : { authorization: `Bearer ${pass}` } });

afterEach(() => {
  vi.restoreAllMocks();
  forgetOriginHealth();
});

describe("slot reads through the edge's cache", () => {
  it("reads the origin once for 50 citizens asking for the same region and date at once, and again after the time-to-live", async () => {
    const { reads } = origin();
    const date = freshDate();
    const passes = await Promise.all(Array.from({ length: 50 }, () => passFor()));
    const answers = await Promise.all(passes.map((pass) => read(`?region=11&date=${date}`, pass)));
    expect(answers.map((a) => a.status)).toEqual(passes.map(() => 200));
    const bodies = await Promise.all(answers.map((a) => a.text()));
    expect(new Set(bodies).size).toBe(1);
    expect(answers[0]!.headers.get("cache-control")).toBe("no-store");
    expect(reads).toEqual([`?region=11&date=${date}`]);

    // Within the time-to-live, one after another too.
    for (const pass of passes.slice(0, 5)) expect((await read(`?date=${date}&region=11`, pass)).status).toBe(200);
    expect(reads).toHaveLength(1);

    // Past it, the next citizen's read refreshes it: a seat taken since shows.
    await new Promise((r) => setTimeout(r, SLOTS_TTL_MS + 100));
    const later = await read(`?region=11&date=${date}`, passes[0]);
    expect(later.status).toBe(200);
    expect(reads).toHaveLength(2);
    expect(((await later.json()) as { slots: Array<{ remaining: number }> }).slots[0]!.remaining).toBe(8);
  });

  it("keeps one answer per region and date", async () => {
    const { reads } = origin();
    const date = freshDate();
    const pass = await passFor();
    for (const query of [`?region=11&date=${date}`, `?region=26&date=${date}`, `?region=11`, `?date=${date}`, `?region=11&date=${date}`, `?region=26&date=${date}`]) {
      const res = await read(query, pass);
      expect(res.status, query).toBe(200);
      await res.arrayBuffer();
    }
    expect(reads).toEqual([`?region=11&date=${date}`, `?region=26&date=${date}`, `?region=11`, `?date=${date}`]);
  });

  it("verifies the pass before serving anything from the cache", async () => {
    const { reads } = origin();
    const date = freshDate();
    expect((await read(`?region=11&date=${date}`, await passFor())).status).toBe(200);
    const genuine = await passFor();
    const [header, payload] = genuine.split(".");
    for (const pass of [undefined, `${header}.${payload}.${"A".repeat(86)}`, "not-a-pass"]) {
      const res = await read(`?region=11&date=${date}`, pass);
      expect(res.status).toBe(401);
      expect(await errorCode(res)).toBe("invalid_token");
    }
    expect(reads).toHaveLength(1);
  });

  it("refuses a bad query at the edge, without reading the origin", async () => {
    const { reads } = origin();
    const pass = await passFor();
    for (const query of ["?region=99", "?date=2031-02-30", "?date=26.07.2031"]) {
      const res = await read(query, pass);
      expect(res.status, query).toBe(400);
      expect(await errorCode(res)).toBe("invalid_request");
    }
    expect(reads).toEqual([]);
  });

  it("does not keep a failed read: the next citizen asks the origin again", async () => {
    const { reads } = origin(undefined, 500);
    const date = freshDate();
    const first = await read(`?region=11&date=${date}`, await passFor());
    expect(first.status).toBe(503);
    expect(await errorCode(first)).toBe("unavailable");
    const second = await read(`?region=11&date=${date}`, await passFor());
    expect(second.status).toBe(503);
    await second.arrayBuffer();
    expect(reads).toHaveLength(2);
  });

  it("serves the last answer, a little stale, to a citizen whose refresh the origin fails", async () => {
    const date = freshDate();
    const { reads } = origin();
    const first = await read(`?region=11&date=${date}`, await passFor());
    const body = await first.text();
    vi.restoreAllMocks();
    const failing = origin(undefined, 500);
    await new Promise((r) => setTimeout(r, SLOTS_TTL_MS + 100));
    const stale = await read(`?region=11&date=${date}`, await passFor());
    expect(stale.status).toBe(200);
    expect(await stale.text()).toBe(body);
    expect(reads).toHaveLength(1);
    expect(failing.reads).toHaveLength(1);
  });

  it("never caches a booking: each reaches the origin, whose slot_full stands", async () => {
    const { bookings } = origin({ status: 409, body: { error: { code: "slot_full", message: "this slot has no seats left" } } });
    for (let i = 0; i < 3; i++) {
      const res = await SELF.fetch(`${ORIGIN}/api/bookings`, {
        method: "POST",
        headers: { authorization: `Bearer ${await passFor()}`, "content-type": "application/json" },
        body: JSON.stringify({ slotId: 1 }),
      });
      expect(res.status).toBe(409);
      expect(await errorCode(res)).toBe("slot_full");
    }
    expect(bookings).toEqual(["POST /api/bookings", "POST /api/bookings", "POST /api/bookings"]);
  });

  it("reads a region's free days from the origin once for many citizens, apart from its slot lists", async () => {
    const { reads } = origin();
    const passes = await Promise.all(Array.from({ length: 20 }, () => passFor()));
    const dates = (pass: string | undefined, query = "?region=47") =>
      SELF.fetch(`${ORIGIN}/api/slots/dates${query}`, { headers: pass === undefined ? {} : { authorization: `Bearer ${pass}` } });
    const answers = await Promise.all(passes.map((pass) => dates(pass)));
    expect(answers.map((a) => a.status)).toEqual(passes.map(() => 200));
    expect(new Set(await Promise.all(answers.map((a) => a.text()))).size).toBe(1);
    expect(reads).toEqual(["dates?region=47"]);

    // The region's slot list is another answer, read on its own.
    expect((await read("?region=47", passes[0])).status).toBe(200);
    expect(reads).toEqual(["dates?region=47", "?region=47"]);

    // Refused at the edge, before any origin read: no pass, no region, an unknown region.
    expect((await dates(undefined)).status).toBe(401);
    for (const query of ["", "?region=99"]) {
      const res = await dates(passes[1], query);
      expect(res.status).toBe(400);
      expect(await errorCode(res)).toBe("invalid_request");
    }
    expect(reads).toHaveLength(2);
  });
});
