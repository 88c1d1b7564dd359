/**
 * Scenarios 1, 2 (PGlite) and 3: a part of the stack killed with SIGKILL while citizens book or wait.
 * Nothing is told to the stack: its supervisor has to notice, restart the part, and the part has to come
 * back with everything it had (the origin's database, the edge's Durable Object state).
 */
import type { Harness, ScenarioContext, ScenarioSpec } from "./harness.js";

/** How long a killed part may take to serve again: the edge is rebuilt and its workerd started anew. */
const RESTART_TIMEOUT_MS = 90_000;

async function killAndWatch(h: Harness, part: "origin" | "edge", afterMs: number): Promise<void> {
  const before = h.crowd.counts();
  const pids = h.stack.kill(part, "SIGKILL");
  if (pids.length === 0) {
    h.fail(`no ${part} process found to kill`);
    return;
  }
  h.event(`kill -9 ${part} (pids ${pids.join(", ")}) with ${before.booked} booked, ${before.admitted - before.booked} holding a pass, ${before.waiting} waiting`);
  const back = await h.serving(part, RESTART_TIMEOUT_MS);
  if (back === undefined) {
    h.fail(
      h.stack.running()
        ? `the ${part} did not serve again within ${RESTART_TIMEOUT_MS / 1000} s of kill -9 (not restarted)`
        : `start.ts stopped the whole stack when the ${part} died instead of restarting it`,
    );
    return;
  }
  h.event(`${part} serving again ${back} ms after kill -9`);
  // The crowd goes on against the restarted part: bookings and polls must work again.
  const bookedBefore = h.crowd.counts().booked;
  await new Promise((resolve) => setTimeout(resolve, afterMs));
  h.event(`${h.crowd.counts().booked - bookedBefore} more bookings after the restart`);
}

export function originKill(ctx: ScenarioContext, database: "postgres" | "pglite"): ScenarioSpec {
  const onPglite = database === "pglite";
  return {
    name: onPglite ? "pglite-kill" : "origin-kill",
    title: onPglite ? "PGlite's folder reopened after kill -9 of the origin mid-write" : "Origin killed (-9) and restarted mid-booking",
    item: onPglite ? 2 : 1,
    fault: onPglite
      ? "kill -9 of the origin (embedded PGlite) while bookings are being written; the supervisor restarts it on the same folder"
      : "kill -9 of the origin (PostgreSQL through the Neon driver) while bookings are in flight; the supervisor restarts it",
    database,
    // Admissions spread over about 30 s, so citizens are still booking when the origin dies and returns.
    env: { ADMIT_PER_MINUTE: ctx.quick ? "240" : "600" },
    crowd: { citizens: ctx.quick ? 120 : 300, arrivalMs: 3_000 },
    async run(h) {
      // Mid-booking: passes are out and bookings are being written when the kill lands.
      if (!(await h.until(() => h.crowd.counts().booked >= 10, 60_000))) h.note("fewer than 10 bookings before the kill");
      await killAndWatch(h, "origin", ctx.quick ? 4_000 : 10_000);
      if (onPglite) {
        const opened = (h.stack.output().match(/origin: database: embedded PGlite/g) ?? []).length;
        h.event(`the origin opened its PGlite folder ${opened} times`);
      }
    },
  };
}

export function edgeKill(ctx: ScenarioContext): ScenarioSpec {
  const waiting = ctx.quick ? 200 : 200;
  return {
    name: "edge-kill",
    title: "Edge killed (-9) and restarted with 200 waiting",
    item: 3,
    fault: "kill -9 of the edge (its process group, workerd included) with 200 citizens waiting and others booking; the supervisor restarts it on the same Durable Object state",
    database: "pglite",
    // Slow admission, so the line stays long: about 1 admitted per second.
    env: { ADMIT_PER_MINUTE: "60" },
    crowd: { citizens: waiting + (ctx.quick ? 30 : 60), arrivalMs: 3_000 },
    async run(h) {
      const enough = await h.until(() => h.crowd.counts().waiting >= waiting, 60_000);
      h.event(`${h.crowd.counts().waiting} waiting, ${h.crowd.counts().admitted} admitted when the edge is killed`);
      if (!enough) h.fail(`only ${h.crowd.counts().waiting} citizens waiting before the kill, not ${waiting}`);
      await killAndWatch(h, "edge", ctx.quick ? 5_000 : 10_000);
    },
  };
}
