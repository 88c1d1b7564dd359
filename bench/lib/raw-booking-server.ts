/**
 * The baseline of `npm run bench -- origin`: the booking's SQL issued raw through the same Neon driver
 * Pool (src/origin/db/neon.ts, same size and settings) that the origin uses, from a minimal node:http
 * server: no Hono, no pass verification, no zod, no Drizzle. The statements are the ones
 * src/origin/booking-store.ts's bookSlot makes for a new booking: look up the pass's booking, then in one
 * transaction insert the booking (ON CONFLICT DO NOTHING) and take a seat with a conditional UPDATE,
 * then read the booking back with its slot and clinic.
 *
 *   POST /book {"slotId":1,"citizenKey":"…","jti":"…"}  → 201 booking | 409 slot full
 *
 * Run as its own process by bench/suites/origin.ts (DATABASE_URL, NEON_WS_PROXY, PORT).
 */
import { createServer } from "node:http";
import { neonConfig } from "@neondatabase/serverless";
import ws from "ws";
import { newBookingCode } from "../../src/origin/booking-code.js";
import { openNeonPool, useNeonWsProxy } from "../../src/origin/db/neon.js";

const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) throw new Error("DATABASE_URL is required");
neonConfig.webSocketConstructor = ws;
if (process.env.NEON_WS_PROXY) useNeonWsProxy(process.env.NEON_WS_PROXY);
// Exactly what the origin's Node entry opens (openDatabase → openNeon → openNeonPool, DB_TIMEOUT_MS 5000).
const { pool } = openNeonPool(databaseUrl, { connectionTimeoutMs: 5_000 });

const FIND_BOOKING = `select b.id, b.code, b.cohort, b.status, b.created_at, s.id as slot_id, s.starts_at, s.capacity, s.booked,
  c.id as clinic_id, c.name, c.region, c.address
  from bookings b inner join slots s on b.slot_id = s.id inner join clinics c on s.clinic_id = c.id
  where %WHERE% order by b.created_at desc limit 1`;
const BY_JTI = FIND_BOOKING.replace("%WHERE%", "b.pass_jti = $1");
const BY_ID = FIND_BOOKING.replace("%WHERE%", "b.id = $1");

async function book(slotId: number, citizenKey: string, jti: string): Promise<{ status: number; body: unknown }> {
  const replayed = await pool.query(BY_JTI, [jti]);
  if (replayed.rows[0]) return { status: 200, body: { booking: replayed.rows[0] } };
  const client = await pool.connect();
  let bookingId: string | undefined;
  let noSeat = false;
  try {
    await client.query("begin");
    const inserted = await client.query<{ id: string }>(
      "insert into bookings (citizen_key, cohort, slot_id, pass_jti, code) values ($1, $2, $3, $4, $5) on conflict do nothing returning id",
      [citizenKey, "55-59", slotId, jti, newBookingCode()],
    );
    bookingId = inserted.rows[0]?.id;
    if (bookingId !== undefined) {
      const seat = await client.query("update slots set booked = booked + 1 where id = $1 and booked < capacity returning id", [slotId]);
      noSeat = seat.rows.length === 0;
    }
    await client.query(noSeat ? "rollback" : "commit");
  } catch (err) {
    await client.query("rollback").catch(() => {});
    throw err;
  } finally {
    client.release();
  }
  // As bookSlot does: the connection is back in the pool before the next query.
  if (noSeat) {
    const exists = await pool.query("select id from slots where id = $1 limit 1", [slotId]);
    return exists.rows.length ? { status: 409, body: { error: { code: "slot_full" } } } : { status: 404, body: { error: { code: "not_found" } } };
  }
  if (bookingId === undefined) return { status: 409, body: { error: { code: "already_booked" } } };
  const created = await pool.query(BY_ID, [bookingId]);
  return { status: 201, body: { booking: created.rows[0] } };
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    const answer = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (req.method !== "POST" || req.url !== "/book") return answer(404, { error: { code: "not_found" } });
    const input = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { slotId: number; citizenKey: string; jti: string };
    book(input.slotId, input.citizenKey, input.jti).then(
      (r) => answer(r.status, r.body),
      (err: unknown) => {
        console.error(err);
        answer(503, { error: { code: "unavailable" } });
      },
    );
  });
});

server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  const address = server.address();
  console.log(`raw-booking-server listening on ${typeof address === "object" && address ? address.port : "?"}`);
});
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    server.close();
    void pool.end().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 2_000).unref();
  });
}
