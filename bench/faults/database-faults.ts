/**
 * Scenarios 2 (PostgreSQL) and 5: the database goes away, or crawls, under the origin. The stack keeps
 * running; the origin must answer the designed 503 (error shape, Retry-After) while it cannot write, and
 * lose nothing: every booking it confirmed stays, no seat is sold twice.
 */
import type { Pool } from "@neondatabase/serverless";
import type { ScenarioContext, ScenarioSpec } from "./harness.js";
import { sleep } from "./stack.js";

export function postgresRestart(ctx: ScenarioContext): ScenarioSpec {
  const downMs = ctx.quick ? 4_000 : 10_000;
  return {
    name: "postgres-restart",
    title: "PostgreSQL stopped (immediate) and started again",
    item: 2,
    fault: `pg_ctl stop -m immediate of the private server (a crash, as the server sees it) mid-booking, ${downMs / 1000} s down, then pg_ctl start`,
    database: "postgres",
    // Admissions spread over about 30 s, so citizens are still booking when the server goes and comes back.
    env: { DB_TIMEOUT_MS: "2000", ADMIT_PER_MINUTE: ctx.quick ? "240" : "600" },
    crowd: { citizens: ctx.quick ? 120 : 300, arrivalMs: 3_000 },
    async run(h) {
      if (h.database.kind !== "postgres") throw new Error("postgres-restart needs the private server");
      const server = h.database.server;
      await h.until(() => h.crowd.counts().booked >= 10, 60_000);
      const unavailableBefore = h.tally.unavailable503;
      await server.stop("immediate");
      h.event(`PostgreSQL stopped (immediate) with ${h.crowd.counts().booked} booked, ${h.crowd.counts().admitted - h.crowd.counts().booked} holding a pass, ${h.crowd.counts().waiting} waiting`);
      await sleep(downMs);
      await server.start();
      h.event(`PostgreSQL started again; ${h.tally.unavailable503 - unavailableBefore} designed 503s while it was down`);
      const booked = h.crowd.counts().booked;
      if (booked === h.crowd.citizens.length) h.fail("every citizen had booked before PostgreSQL came back: the fault was not mid-booking");
      else if (!(await h.until(() => h.crowd.counts().booked > booked, 30_000))) h.fail("no booking went through within 30 s of PostgreSQL starting again");
      else h.event(`bookings go through again (${h.crowd.counts().booked - booked} since the restart)`);
      await sleep(ctx.quick ? 2_000 : 5_000);
    },
  };
}

export function slowDatabase(ctx: ScenarioContext): ScenarioSpec {
  const holdMs = ctx.quick ? 3_000 : 8_000;
  const timeoutMs = 1_000;
  return {
    name: "slow-db",
    title: "Origin slowed past DB_TIMEOUT_MS",
    item: 5,
    fault: `twice, a transaction on a separate connection holds ACCESS EXCLUSIVE on the slots table for ${holdMs / 1000} s, longer (up to ${(3 * holdMs) / 1000} s) until a request has met it (DB_TIMEOUT_MS=${timeoutMs}), so every booking and slot query waits past the bound`,
    database: "postgres",
    env: { DB_TIMEOUT_MS: String(timeoutMs), ADMIT_PER_MINUTE: ctx.quick ? "240" : "600" },
    crowd: { citizens: ctx.quick ? 120 : 300, arrivalMs: 3_000 },
    async run(h) {
      if (h.database.kind !== "postgres") throw new Error("slow-db needs the private server");
      await h.until(() => h.crowd.counts().booked >= 5, 60_000);
      const pool: Pool = h.database.server.pool(h.database.url);
      try {
        for (let round = 1; round <= 2; round++) {
          const before = h.tally.unavailable503;
          const client = await pool.connect();
          try {
            await client.query("begin");
            await client.query("lock table slots in access exclusive mode");
            h.event(`round ${round}: slots locked`);
            await sleep(holdMs);
            // Bookings arrive at the admission rate, so a hold can fall in a lull: it is held on, up to twice
            // as long again, until some request has met it.
            await h.until(() => h.tally.unavailable503 > before, 2 * holdMs);
            await client.query("rollback");
          } finally {
            client.release();
          }
          h.event(`round ${round}: lock released; ${h.tally.unavailable503 - before} designed 503s while held`);
          if (h.tally.unavailable503 === before) h.fail(`round ${round}: no request was answered 503 while the database was held past DB_TIMEOUT_MS (the fault did not bite)`);
          await sleep(ctx.quick ? 2_000 : 4_000);
        }
      } finally {
        await pool.end().catch(() => undefined);
      }
    },
  };
}
