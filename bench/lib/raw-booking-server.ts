/**
 * The baseline of `npm run bench -- origin`: the booking's SQL issued raw through the same Neon driver
 * Pool (src/origin/db/neon.ts, same size and settings) that the origin uses, from a minimal node:http
 * server: no Hono, no pass verification, no zod, no Drizzle per request. The statement is the one
 * src/origin/booking-store.ts's bookSlot sends for a new booking (the insert, the seat and the booking
 * read back in one statement, prepared under the same name), its text taken from the origin once at
 * start so the two cannot drift apart; a booking not written is settled as bookSlot settles it, by
 * looking the pass's booking up, then the slot's seats, and drawing a new booking code when it can name neither.
 *
 *   POST /book {"slotId":1,"citizenKey":"…","jti":"…"}  → 201 booking | 409 slot full
 *
 * With PASS_JWKS (and the origin's PASS_ISSUER, PASS_AUDIENCE, PASS_TTL_SECONDS) it is the same server
 * with the one check the design asks of the origin and no more: each request must carry a pass as
 * `Authorization: Bearer`, verified by the origin's own verifier as the Node origin makes it
 * (src/origin/pass-verifier.ts with node:crypto's ES256 check), and the booking's citizen, cohort and
 * pass id are the pass's; the body names only the slot, as the origin's does.
 *
 *   POST /book {"slotId":1}, Authorization: Bearer <pass>  → 201 booking | 401 | 409 slot full
 *
 * So the suite can tell what the pass check alone costs from what the rest of the origin does.
 *
 * Run as its own process by bench/suites/origin.ts (DATABASE_URL, NEON_WS_PROXY, PORT).
 */
import { createServer } from "node:http";
import { neonConfig } from "@neondatabase/serverless";
import ws from "ws";
import { newBookingCode } from "../../src/origin/booking-code.js";
import { bookingQuery, type BookingValues } from "../../src/origin/booking-store.js";
import { parseOriginConfig } from "../../src/origin/config.js";
import { sqlState } from "../../src/origin/db/database.js";
import { openNeonPool, useNeonWsProxy } from "../../src/origin/db/neon.js";
import { nodeSignatureCheck } from "../../src/origin/node-signature.js";
import { createCredentialVerifier } from "../../src/origin/pass-verifier.js";

const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) throw new Error("DATABASE_URL is required");
neonConfig.webSocketConstructor = ws;
if (process.env.NEON_WS_PROXY) useNeonWsProxy(process.env.NEON_WS_PROXY);
// Exactly what the origin's Node entry opens (openDatabase → openNeon → openNeonPool, DB_TIMEOUT_MS 5000).
const { db, pool } = openNeonPool(databaseUrl, { connectionTimeoutMs: 5_000 });
const BOOK = bookingQuery(db);
/** The origin's own pass check, when the suite runs this server as "raw SQL with the pass check". */
const verifyPass = process.env.PASS_JWKS
  ? createCredentialVerifier({ ...parseOriginConfig(process.env).passes, signatureCheck: nodeSignatureCheck })
  : undefined;
const BEARER = /^Bearer (\S+)$/;

const BY_JTI = `select b.id, b.code, b.cohort, b.status, b.created_at, s.id as slot_id, s.starts_at, s.capacity, s.booked,
  c.id as clinic_id, c.name, c.region, c.address
  from bookings b inner join slots s on b.slot_id = s.id inner join clinics c on s.clinic_id = c.id
  where b.pass_jti = $1 and b.status = 'booked' order by b.created_at desc limit 1`;

const SEATS = "select booked >= capacity as full from slots where id = $1";

/** As bookSlot tries: a booking that wrote nothing for no reason it can name drew a taken code, and draws again. */
const ATTEMPTS = 3;

async function book(slotId: number, citizenKey: string, cohort: string, jti: string): Promise<{ status: number; body: unknown }> {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const values: BookingValues = { citizenKey, cohort, slotId, passJti: jti, code: newBookingCode() };
    try {
      // Rows as arrays, as Drizzle asks for them: the statement returns three columns named "id".
      const created = await pool.query({ name: BOOK.name, text: BOOK.sql, values: BOOK.names.map((n) => values[n]), rowMode: "array" });
      if (created.rows[0]) return { status: 201, body: { booking: created.rows[0] } };
    } catch (err) {
      if (sqlState(err) === "23514") return { status: 409, body: { error: { code: "slot_full" } } };
      if (sqlState(err) === "23503") return { status: 404, body: { error: { code: "not_found" } } };
      throw err;
    }
    const replayed = await pool.query(BY_JTI, [jti]);
    if (replayed.rows[0]) return { status: 200, body: { booking: replayed.rows[0] } };
    // The statement writes nothing for a full slot either (bookSlot tells the two apart the same way).
    const seats = await pool.query<{ full: boolean }>(SEATS, [slotId]);
    if (seats.rows[0]?.full) return { status: 409, body: { error: { code: "slot_full" } } };
    // Neither: the drawn booking code was taken (each citizen of a load is new, so none holds a booking).
  }
  return { status: 409, body: { error: { code: "already_booked" } } };
}

/** The booking of the pass the request carries, once the origin's check has found it good. */
async function bookWithPass(authorization: string | undefined, slotId: number): Promise<{ status: number; body: unknown }> {
  const token = BEARER.exec(authorization ?? "")?.[1];
  if (token === undefined) return { status: 401, body: { error: { code: "invalid_token" } } };
  const verdict = await verifyPass!(token);
  if (!verdict.ok || verdict.credential.kind !== "pass") return { status: 401, body: { error: { code: "invalid_token" } } };
  const { pass } = verdict.credential;
  return book(slotId, pass.sub, pass.cohort, pass.jti);
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
    const booked = verifyPass ? bookWithPass(req.headers.authorization, input.slotId) : book(input.slotId, input.citizenKey, "55-59", input.jti);
    booked.then(
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
