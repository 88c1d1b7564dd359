import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { drizzle } from "drizzle-orm/pglite";
import { migrate } from "drizzle-orm/pglite/migrator";
import { afterAll, describe, expect, it } from "vitest";
import { DRIZZLE_OPTIONS } from "../../src/origin/db/database.js";
import { MIGRATIONS_FOLDER } from "../../src/origin/db/connect.js";
import { bookings } from "../../src/origin/db/schema.js";
import { makePassKeys, passClaimsFor, signPass } from "./support/passes.js";
import { bookingOf, createSlot, errorOf, originFor, postBooking } from "./support/origin.js";

/**
 * A database made before a pass could book again after a cancel (only migrations/0000) upgrades in
 * place, keeping its bookings, and then behaves as a new one does.
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
      const first = await bookingOf(await postBooking(app, pass, { slotId }));
      // Cancelled as the old schema allowed; the seat goes back as the cancel route does it.
      await app.request(`/api/bookings/${first.id}`, { method: "DELETE", headers: { Authorization: `Bearer ${pass}` } });

      await migrate(db, { migrationsFolder: MIGRATIONS_FOLDER });

      expect(await db.select({ id: bookings.id, status: bookings.status }).from(bookings)).toEqual([{ id: first.id, status: "cancelled" }]);
      const again = await postBooking(app, pass, { slotId });
      expect(again.status).toBe(201);
      const second = await bookingOf(again);
      expect(second.id).not.toBe(first.id);
      // The new constraint holds: one live booking per pass, even for a row written past the API.
      const twin = db.insert(bookings).values({ citizenKey: `other-${String(claims.sub)}`, cohort: "55-59", slotId, passJti: String(claims.jti) });
      await expect(twin).rejects.toThrow();
      const replay = await postBooking(app, pass, { slotId });
      expect(replay.status).toBe(200);
      expect((await bookingOf(replay)).id).toBe(second.id);
      expect(await errorOf(await postBooking(app, await signPass(keys, passClaimsFor({ sub: claims.sub })), { slotId }))).toMatchObject({ code: "already_booked" });
    } finally {
      await client.close();
    }
  });
});
