/**
 * `npx tsx bench/origin-drizzle.ts [--bookings 3000] [--rounds 6]`: what Drizzle adds to a new booking, in
 * CPU microseconds of this process, one of the pieces issue 29 asks to measure between the origin and
 * the raw SQL. The same new booking is made two ways on a scratch database of the local PostgreSQL
 * (127.0.0.1:5432, through the Neon driver and the WebSocket-to-TCP bridge tests use), one at a time:
 * `bookSlot` as the origin makes it (the prepared Drizzle statement, its placeholders, its row mapping,
 * the booking as the answer carries it), and the same statement's text sent by the driver itself, as
 * bench/lib/raw-booking-server.ts sends it. Both count the bridge, which costs them the same. Rounds
 * alternate after a warm-up; each prints both figures, and the median difference is printed last. It
 * prints and writes nothing else; the scratch database is dropped.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import type { Pool } from "@neondatabase/serverless";
import { sql } from "drizzle-orm";
import type { PassClaims } from "../src/contract/pass.js";
import { newBookingCode } from "../src/origin/booking-code.js";
import { bookingQuery, bookSlot, type BookingValues } from "../src/origin/booking-store.js";
import { openNeon } from "../src/origin/db/connect.js";
import { clinics, slots } from "../src/origin/db/schema.js";
import { startWsTcpBridge } from "../test/support/ws-tcp-bridge.js";
import { machine } from "./lib/machine.js";
import { machineLine } from "./lib/report.js";
import { median } from "./lib/stats.js";

const SERVER = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const SLOTS = 50;
const WARM_UP = 300;

const { values: args } = parseArgs({ options: { bookings: { type: "string", default: "3000" }, rounds: { type: "string", default: "6" } } });
const bookings = Number(args.bookings);
const rounds = Number(args.rounds);
if (!Number.isInteger(bookings) || bookings < 1 || !Number.isInteger(rounds) || rounds < 1) throw new Error("--bookings and --rounds take whole numbers");

const bridge = await startWsTcpBridge();
const wsProxy = `127.0.0.1:${bridge.port}`;
const admin = openNeon(SERVER, { wsProxy, connectionTimeoutMs: 10_000, max: 1 });
const name = `bench_${randomBytes(6).toString("hex")}`;
await admin.db.execute(sql.raw(`create database "${name}"`));
const url = new URL(SERVER);
url.pathname = `/${name}`;
// One connection, so both ways use the same one and neither waits for another's.
const connection = openNeon(url.toString(), { wsProxy, connectionTimeoutMs: 10_000, max: 1 });
try {
  await connection.migrate();
  const [clinic] = await connection.db.insert(clinics).values({ name: "벤치마크의원", region: "11", address: "서울특별시 중구 세종대로 110" }).returning({ id: clinics.id });
  const slotIds = (
    await connection.db
      .insert(slots)
      .values(Array.from({ length: SLOTS }, (_, i) => ({ clinicId: clinic!.id, startsAt: new Date(Date.now() + 86_400_000 + i * 60_000), capacity: 1_000_000 })))
      .returning({ id: slots.id })
  ).map((s) => s.id);
  const driver = (connection.db as unknown as { $client: Pool }).$client;
  const statement = bookingQuery(connection.db);
  let made = 0;
  const pass = (): PassClaims => {
    const now = Math.floor(Date.now() / 1000);
    return { iss: "bench", aud: "bench", sub: randomUUID(), jti: randomUUID(), cohort: "55-59", shard: 0, seq: 1, iat: now, nbf: now, exp: now + 900 };
  };
  const ways = {
    drizzle: async () => {
      const outcome = await bookSlot(connection.db, pass(), slotIds[made++ % SLOTS]!);
      if (outcome.kind !== "created") throw new Error(`bookSlot: ${outcome.kind}`);
    },
    driver: async () => {
      const p = pass();
      const values: BookingValues = { citizenKey: p.sub, cohort: p.cohort, slotId: slotIds[made++ % SLOTS]!, passJti: p.jti, code: newBookingCode() };
      const result = await driver.query({ name: statement.name, text: statement.sql, values: statement.names.map((n) => values[n]), rowMode: "array" });
      if (result.rows.length !== 1) throw new Error("the driver's booking wrote nothing");
    },
  };
  for (const way of Object.values(ways)) for (let i = 0; i < WARM_UP; i++) await way();
  console.log(machineLine(machine()), `load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  const differences: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const cpu: Record<string, number> = {};
    const order = round % 2 === 0 ? (["drizzle", "driver"] as const) : (["driver", "drizzle"] as const);
    for (const way of order) {
      const before = process.cpuUsage();
      for (let i = 0; i < bookings; i++) await ways[way]();
      const used = process.cpuUsage(before);
      cpu[way] = (used.user + used.system) / bookings;
    }
    differences.push(cpu.drizzle! - cpu.driver!);
    console.log(`round ${round + 1}: bookSlot ${cpu.drizzle!.toFixed(1)} µs, the driver's query ${cpu.driver!.toFixed(1)} µs of CPU per booking`);
  }
  const sorted = [...differences].sort((a, b) => a - b);
  console.log(`Drizzle's share of a new booking: ${median(differences).toFixed(1)} µs (${sorted[0]!.toFixed(1)} to ${sorted.at(-1)!.toFixed(1)}) over ${rounds} rounds of ${bookings}`);
} finally {
  await connection.close();
  await admin.db.execute(sql.raw(`drop database if exists "${name}" with (force)`));
  await admin.close();
  await bridge.close();
}
