import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { sql } from "drizzle-orm";
import { drizzle, type PgliteDatabase } from "drizzle-orm/pglite";
import { migrate } from "drizzle-orm/pglite/migrator";
import { afterAll, describe, expect, it } from "vitest";
import { DRIZZLE_OPTIONS } from "../../src/origin/db/database.js";
import { MIGRATIONS_FOLDER } from "../../src/origin/db/connect.js";
import { BOOKING_CODE_ALPHABET } from "../../src/contract/booking.js";
import { bookings } from "../../src/origin/db/schema.js";
import { COHORT, makePassKeys, passClaimsFor, signPass } from "./support/passes.js";
import { bookingOf, createSlot, errorOf, getMyBooking, originFor, postBooking } from "./support/origin.js";

const CODE = new RegExp(`^[${BOOKING_CODE_ALPHABET}]{8}$`);

/**
 * A database made by older migrations (before a pass could book again after a cancel, before booking
 * codes) upgrades in place, keeping its bookings, and then behaves as a new one does.
 */
describe("an existing database", () => {
  const folders: string[] = [];
  afterAll(() => folders.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  /** The committed migrations up to and including `lastTag`, as drizzle-kit laid them out. */
  function migrationsUpTo(lastTag: string): string {
    const dir = mkdtempSync(join(tmpdir(), "origin-migrations-"));
    folders.push(dir);
    cpSync(MIGRATIONS_FOLDER, dir, { recursive: true });
    const journalPath = join(dir, "meta", "_journal.json");
    const journal = JSON.parse(readFileSync(journalPath, "utf8")) as { entries: Array<{ tag: string }> };
    const last = journal.entries.findIndex((e) => e.tag === lastTag);
    expect(last).toBeGreaterThanOrEqual(0);
    writeFileSync(journalPath, JSON.stringify({ ...journal, entries: journal.entries.slice(0, last + 1) }));
    return dir;
  }

  /** A booking as an older schema held it, written past the API (the app of today writes a code too). */
  async function oldBooking(db: PgliteDatabase, row: { citizenKey: string; passJti: string; slotId: number; status: "booked" | "cancelled" }): Promise<string> {
    const result = await db.execute<{ id: string }>(sql`
      insert into bookings (citizen_key, cohort, slot_id, pass_jti, status)
      values (${row.citizenKey}, ${COHORT}, ${row.slotId}, ${row.passJti}, ${row.status}) returning id`);
    if (row.status === "booked") await db.execute(sql`update slots set booked = booked + 1 where id = ${row.slotId}`);
    return result.rows[0]!.id;
  }

  it("migrates, keeps its bookings, and lets a pass whose booking was cancelled book again", async () => {
    const client = new PGlite();
    const db = drizzle({ client, ...DRIZZLE_OPTIONS });
    try {
      await migrate(db, { migrationsFolder: migrationsUpTo("0000_init") });
      const keys = await makePassKeys();
      const app = originFor(db, keys);
      const slotId = await createSlot(db, 5);
      const claims = passClaimsFor();
      const pass = await signPass(keys, claims);
      // Booked and then cancelled, as the old schema allowed.
      const first = await oldBooking(db, { citizenKey: String(claims.sub), passJti: String(claims.jti), slotId, status: "cancelled" });

      await migrate(db, { migrationsFolder: MIGRATIONS_FOLDER });

      expect(await db.select({ id: bookings.id, status: bookings.status }).from(bookings)).toEqual([{ id: first, status: "cancelled" }]);
      const again = await postBooking(app, pass, { slotId });
      expect(again.status).toBe(201);
      const second = await bookingOf(again);
      expect(second.id).not.toBe(first);
      // The new constraint holds: one live booking per pass, even for a row written past the API.
      const twin = db.insert(bookings).values({ citizenKey: `other-${String(claims.sub)}`, cohort: "55-59", slotId, passJti: String(claims.jti), code: "ZZZZ2222" });
      await expect(twin).rejects.toThrow();
      const replay = await postBooking(app, pass, { slotId });
      expect(replay.status).toBe(200);
      expect((await bookingOf(replay)).id).toBe(second.id);
      expect(await errorOf(await postBooking(app, await signPass(keys, passClaimsFor({ sub: claims.sub })), { slotId }))).toMatchObject({ code: "already_booked" });
    } finally {
      await client.close();
    }
  });

  it("gives every booking made before booking codes a code of its own, which the API then shows", async () => {
    const client = new PGlite();
    const db = drizzle({ client, ...DRIZZLE_OPTIONS });
    try {
      await migrate(db, { migrationsFolder: migrationsUpTo("0001_live_booking_per_pass") });
      const keys = await makePassKeys();
      const slotId = await createSlot(db, 500);
      // Enough rows that a backfill drawing one code for all of them, or codes from a narrow range, fails.
      const passes = Array.from({ length: 300 }, () => passClaimsFor());
      const ids: string[] = [];
      for (const [n, claims] of passes.entries()) {
        ids.push(await oldBooking(db, { citizenKey: String(claims.sub), passJti: String(claims.jti), slotId, status: n % 10 === 0 ? "cancelled" : "booked" }));
      }

      await migrate(db, { migrationsFolder: MIGRATIONS_FOLDER });

      const rows = await db.select({ id: bookings.id, code: bookings.code }).from(bookings);
      expect(rows.map((r) => r.id).sort()).toEqual([...ids].sort());
      for (const row of rows) expect(row.code).toMatch(CODE);
      expect(new Set(rows.map((r) => r.code)).size).toBe(rows.length);
      // Drawn over the whole alphabet: 300 codes of 8 characters use nearly all 30, never a 0, 1, I, L, O or U.
      const used = new Set(rows.flatMap((r) => [...r.code]));
      expect(used.size).toBeGreaterThan(25);
      // The column now refuses a missing code and a taken one.
      await expect(db.execute(sql`insert into bookings (citizen_key, cohort, slot_id, pass_jti) values ('x', ${COHORT}, ${slotId}, 'y')`)).rejects.toThrow();
      await expect(db.insert(bookings).values({ citizenKey: "x", cohort: COHORT, slotId, passJti: "y", code: rows[0]!.code })).rejects.toThrow();

      // The citizen of a backfilled booking sees its code through the API.
      const held = rows.find((r) => r.id === ids[1])!;
      const res = await getMyBooking(originFor(db, keys), await signPass(keys, passes[1]!));
      expect(res.status).toBe(200);
      expect(await bookingOf(res)).toMatchObject({ id: held.id, code: held.code });
    } finally {
      await client.close();
    }
  });
});
