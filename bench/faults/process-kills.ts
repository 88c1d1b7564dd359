/**
 * Scenarios 1, 2 (PGlite) and 3: a part of the stack killed with SIGKILL while citizens book or wait.
 * Nothing is told to the stack: its supervisor has to notice, restart the part, and the part has to come
 * back with everything it had (the origin's database, the edge's Durable Object state). And issue 24's
 * `workerd-kill`: the edge's workerd alone killed under load, while the edge's Node front stays.
 */
import { request } from "node:http";
import type { Harness, ScenarioContext, ScenarioSpec } from "./harness.js";
import { isDesignedUnavailable } from "./http.js";

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

/** One GET on a connection of its own (so a closed port shows as a refused connection): status, or the error's code. */
function probe(url: string): Promise<{ status: number; designed: boolean } | { error: string }> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false, timeout: 10_000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => {
        const retryAfter = res.headers["retry-after"];
        resolve({ status: res.statusCode ?? 0, designed: isDesignedUnavailable(res.statusCode ?? 0, typeof retryAfter === "string" ? retryAfter : null, body) });
      });
      res.on("error", (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    });
    req.on("timeout", () => req.destroy(Object.assign(new Error("timeout"), { code: "TIMEOUT" })));
    req.on("error", (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    req.end();
  });
}

/** How long workerd may take to serve again: a restart reuses the built Worker, after at least 0.5 s of backoff. */
const WORKERD_RESTART_TIMEOUT_MS = 30_000;
/** Connections the probe keeps busy through the front, each request on a new one. */
const PROBE_CONNECTIONS = 8;

export function workerdKill(ctx: ScenarioContext): ScenarioSpec {
  return {
    name: "workerd-kill",
    title: "The edge's workerd killed (-9) under load, its Node front left running (issue 24)",
    item: 24.5,
    fault:
      "kill -9 of the edge's workerd alone while citizens wait and book and 8 probes ask the front for /api/cohorts, each on a new connection; " +
      "scripts/edge.ts restarts workerd behind its front, which answers meanwhile",
    database: "pglite",
    env: { ADMIT_PER_MINUTE: "120" },
    crowd: { citizens: ctx.quick ? 40 : 120, arrivalMs: 2_000 },
    async run(h) {
      if (!(await h.until(() => h.crowd.counts().joined >= (ctx.quick ? 30 : 100), 60_000))) h.note("fewer citizens joined than planned before the kill");
      const url = `${h.stack.edge}/api/cohorts`;
      const since = h.stack.output().length;
      const back = () => /workerd is serving again/.test(h.stack.output().slice(since));
      const errors: Record<string, number> = {};
      let ok = 0;
      let designed503 = 0;
      let otherStatus = 0;
      let killedAt = 0;
      let firstOkAfterKill = 0;
      let stopAt = Number.POSITIVE_INFINITY;
      let probing = true;
      // The probes run from a second before the kill until two seconds after workerd is back: every answer
      // in between is counted, and a refused connection anywhere in it is the fault this scenario hunts.
      const probes = Array.from({ length: PROBE_CONNECTIONS }, async () => {
        while (probing && Date.now() < stopAt) {
          const answer = await probe(url);
          if ("error" in answer) errors[answer.error] = (errors[answer.error] ?? 0) + 1;
          else if (answer.status === 200) {
            ok++;
            if (killedAt && !firstOkAfterKill && designed503 > 0) firstOkAfterKill = Date.now();
          } else if (answer.designed) designed503++;
          else otherStatus++;
        }
      });
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const pids = h.stack.kill("workerd", "SIGKILL");
      killedAt = Date.now();
      if (pids.length === 0) h.fail("no workerd process found to kill");
      else h.event(`kill -9 workerd (pid ${pids.join(", ")}) with ${h.crowd.counts().waiting} waiting and ${h.crowd.counts().admitted} admitted`);
      const served = await h.until(back, WORKERD_RESTART_TIMEOUT_MS);
      stopAt = Date.now() + 2_000;
      await Promise.all(probes);
      probing = false;
      if (!served) h.fail(`workerd did not serve again within ${WORKERD_RESTART_TIMEOUT_MS / 1000} s of kill -9`);
      else h.event(`workerd serving again (the edge said so); first 200 through the front ${firstOkAfterKill ? firstOkAfterKill - killedAt : NaN} ms after the kill`);
      const refused = errors.ECONNREFUSED ?? 0;
      const otherErrors = Object.values(errors).reduce((a, b) => a + b, 0) - refused;
      h.figure("refusedConnections", refused);
      h.figure("otherConnectionErrors", otherErrors);
      h.figure("shaped503", designed503);
      h.figure("otherNon200", otherStatus);
      h.figure("ok200", ok);
      if (firstOkAfterKill) h.figure("msUntilServingAgain", firstOkAfterKill - killedAt);
      h.event(
        `the front's probes: ${refused} refused connections, ${designed503} shaped 503s, ${otherStatus} other non-200 answers, ${otherErrors} other connection errors` +
          `${otherErrors ? ` (${JSON.stringify(errors)})` : ""}, ${ok} 200s`,
      );
      if (refused > 0) h.fail(`${refused} connections to the front were refused while workerd was away`);
      if (otherStatus > 0) h.fail(`${otherStatus} answers while workerd was away were neither 200 nor a shaped 503`);
      if (otherErrors > 0) h.fail(`${otherErrors} probes got no answer: ${JSON.stringify(errors)}`);
      if (served && designed503 === 0) h.fail("no probe saw workerd away: the kill was not observed");
    },
  };
}
