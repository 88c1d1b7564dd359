/**
 * Issue 24's gate scenarios: no single client can hurt another citizen's booking.
 *
 * - one-pass-flood: an admitted client floods the gate with slot reads on its one pass while another
 *   citizen browses and books: the per-pass limit (429) and the edge's slot cache stop the flood before
 *   the origin or the breaker sees it.
 * - origin-port-flood: a client that can reach the origin's port sends it requests without a pass while
 *   citizens book through the edge: the origin refuses them (401) at the cost of a header check, and the
 *   citizens' latency through the edge is reported before and during.
 * - origin-crash: the origin is killed (-9) and the supervisor restarts it, a few seconds down: how long
 *   after it serves again the gate's breaker lets bookings through again.
 *
 * Each keeps the harness's crowd (which joins, waits and books, and is checked for lost places and
 * bookings at the end) and adds citizens of its own, admitted and holding passes, whose requests it times.
 * The floods come from autocannon in a process of its own (bench/lib/load.ts), so the suite's own timing
 * of the citizens never waits behind the flood's answers in one event loop.
 */

/** How long the flood's process takes to start sending: measuring begins this long after it is started. */
const LOAD_START_MS = 2_500;
import { Crowd } from "./crowd.js";
import type { Harness, ScenarioContext, ScenarioSpec } from "./harness.js";
import { call } from "./http.js";
import { sleep } from "./stack.js";
import { slotsResponse } from "../../src/contract/booking.js";
import { runLoad, type LoadResult } from "../lib/load.js";
import { quantile } from "../lib/stats.js";

/** Slots of a region the harness's crowd does not book in (it books region 11's first slots). */
const OWN_REGION = "26";

/** `n` citizens who joined and were admitted, each holding a pass and no booking. */
async function admittedCitizens(h: Harness, n: number): Promise<string[]> {
  const crowd = new Crowd({ edge: h.stack.edge, idp: h.stack.idp, mintSecret: h.stack.mintSecret }, h.tally, { citizens: n, arrivalMs: 0, book: false, concurrency: 8 });
  await crowd.mint();
  crowd.start();
  const admitted = await h.until(() => crowd.counts().admitted >= n, 90_000);
  await crowd.stop();
  if (!admitted) h.fail(`only ${crowd.counts().admitted} of ${n} of the scenario's own citizens were admitted within 90 s`);
  return crowd.citizens.flatMap((c) => (c.pass === undefined ? [] : [c.pass]));
}

/** Open slots of OWN_REGION, read through the edge with `pass`, soonest first. */
async function openSlots(h: Harness, pass: string): Promise<number[]> {
  const answer = await call(h.tally, `${h.stack.edge}/api/slots?region=${OWN_REGION}`, { headers: { authorization: `Bearer ${pass}` } });
  const parsed = answer.ok && answer.status === 200 ? slotsResponse.safeParse(answer.json) : undefined;
  if (!parsed?.success) {
    h.fail(`could not read region ${OWN_REGION}'s slots: ${answer.ok ? `${answer.status} ${answer.text.slice(0, 120)}` : answer.cause}`);
    return [];
  }
  return parsed.data.slots.filter((s) => s.remaining > 0).map((s) => s.id);
}

const bearer = (pass: string) => ({ authorization: `Bearer ${pass}` });
const jsonBearer = (pass: string) => ({ ...bearer(pass), "content-type": "application/json" });

/** p50 / p95 / max of latencies in ms, rounded; nulls when there are none. */
function latencies(ms: number[]): { n: number; p50: number | null; p95: number | null; max: number | null } {
  if (ms.length === 0) return { n: 0, p50: null, p95: null, max: null };
  return { n: ms.length, p50: Math.round(quantile(ms, 0.5)), p95: Math.round(quantile(ms, 0.95)), max: Math.round(Math.max(...ms)) };
}

/** The answers of a flood by status, the 5xx among them, and its pace. */
function floodFigures(r: LoadResult) {
  const fivexx = Object.entries(r.statusCodes).filter(([code]) => Number(code) >= 500).reduce((n, [, k]) => n + k, 0);
  return { requests: r.requests, byStatus: r.statusCodes, errors: r.errors, timeouts: r.timeouts, fivexx, perSecond: Math.round(r.requests / Math.max(1, r.durationSeconds)), latencyMs: r.latencyMs };
}

export function onePassFlood(ctx: ScenarioContext): ScenarioSpec {
  const loops = 32;
  const floodMs = ctx.quick ? 8_000 : 20_000;
  return {
    name: "one-pass-flood",
    title: "One admitted client floods the gate with its pass",
    item: 24.2,
    fault: `${loops} concurrent slot reads with one pass for ${floodMs / 1000} s while another admitted citizen browses slots (one read every 0.5 s, a new date each time) and then books`,
    database: "pglite",
    crowd: { citizens: ctx.quick ? 30 : 60, arrivalMs: 5_000 },
    async run(h) {
      const [flooderPass, otherPass] = await admittedCitizens(h, 2);
      if (!flooderPass || !otherPass) return;
      const slots = await openSlots(h, otherPass);
      const other = { requests: 0, ok: 0, failed: [] as string[], latencyMs: [] as number[] };
      h.event(`flood starts: ${loops} connections of GET /api/slots?region=11 with one pass`);
      const flood = runLoad({
        url: `${h.stack.edge}/api/slots?region=11`,
        method: "GET",
        headers: bearer(flooderPass),
        connections: loops,
        durationSeconds: Math.ceil((LOAD_START_MS + floodMs) / 1000) + 2,
        timeoutSeconds: 30,
      });
      await sleep(LOAD_START_MS);
      const started = Date.now();
      const flooding = () => Date.now() - started < floodMs;
      // The other citizen, as a person on the page: a region, then one day after another, then a booking.
      const day = (i: number) => new Date(Date.now() + (1 + (i % 6)) * 86_400_000 + 9 * 3_600_000).toISOString().slice(0, 10);
      const timed = async (what: string, url: string, init: Parameters<typeof call>[2], okStatus: number) => {
        const sent = performance.now();
        const answer = await call(h.tally, url, init);
        other.latencyMs.push(performance.now() - sent);
        other.requests++;
        if (answer.ok && answer.status === okStatus) other.ok++;
        else other.failed.push(`${what}: ${answer.ok ? `${answer.status} ${answer.text.slice(0, 100)}` : answer.cause}`);
        return answer;
      };
      for (let i = 0; flooding(); i++) {
        await timed("slots", `${h.stack.edge}/api/slots?region=${OWN_REGION}&date=${day(i)}`, { headers: bearer(otherPass) }, 200);
        await sleep(500);
      }
      const booked = slots.length
        ? await timed("booking", `${h.stack.edge}/api/bookings`, { method: "POST", headers: jsonBearer(otherPass), body: JSON.stringify({ slotId: slots[0] }) }, 201)
        : undefined;
      const flooder = floodFigures(await flood);

      const share = other.requests ? other.ok / other.requests : 0;
      const limited = flooder.byStatus["429"] ?? 0;
      h.event(
        `flood over: the flooder sent ${flooder.requests} requests, ${flooder.perSecond}/s (${limited} answered 429, ${flooder.byStatus["200"] ?? 0} 200); ` +
          `the other citizen's ${other.requests} requests ${(share * 100).toFixed(1)}% successful, p95 ${latencies(other.latencyMs).p95} ms, booking ${booked?.ok && booked.status === 201 ? "made" : "not made"}`,
      );
      h.figure("flooder", flooder);
      h.figure("otherCitizen", { requests: other.requests, successful: other.ok, successShare: share, latencyMs: latencies(other.latencyMs), bookingMade: booked?.ok === true && booked.status === 201, failures: other.failed.slice(0, 5) });
      if (share < 0.99) h.fail(`the other citizen's requests were ${(share * 100).toFixed(1)}% successful during the flood (at least 99% must be): ${other.failed.slice(0, 3).join("; ")}`);
      if (!(booked?.ok && booked.status === 201)) h.fail("the other citizen's booking was not made during the flood");
      if (limited === 0) h.fail("the flooder was never answered 429");
      // No 5xx at all: not even the designed 503, which would mean the flood reached the origin and opened
      // the breaker, refusing everyone.
      if (flooder.fivexx > 0) h.fail(`the flooder got ${flooder.fivexx} 5xx answers: ${JSON.stringify(flooder.byStatus)}`);
    },
  };
}

/** How the citizens' requests through the edge went in one phase of the origin-port flood. */
interface Phase {
  latencyMs: number[];
  bookingLatencyMs: number[];
  requests: number;
  ok: number;
  failed: string[];
}

export function originPortFlood(ctx: ScenarioContext): ScenarioSpec {
  const loops = ctx.quick ? 64 : 128;
  const phaseMs = ctx.quick ? 6_000 : 20_000;
  return {
    name: "origin-port-flood",
    title: "Requests without a pass straight to the origin's port",
    item: 24.3,
    fault: `${loops} concurrent GET /api/slots?region=11 without a pass at the origin's own port for ${phaseMs / 1000} s, while admitted citizens ask for their booking and book through the edge (one request every 0.2 s, compared with the ${phaseMs / 1000} s before)`,
    database: "pglite",
    crowd: { citizens: ctx.quick ? 30 : 60, arrivalMs: 5_000 },
    async run(h) {
      // Enough passes that none comes near its limit, and one booking each for every third request.
      const passes = await admittedCitizens(h, ctx.quick ? 24 : 60);
      if (passes.length === 0) return;
      const slots = await openSlots(h, passes[0]!);
      const phases: Record<"before" | "during", Phase> = {
        before: { latencyMs: [], bookingLatencyMs: [], requests: 0, ok: 0, failed: [] },
        during: { latencyMs: [], bookingLatencyMs: [], requests: 0, ok: 0, failed: [] },
      };
      let next = 0;
      let booker = 0;
      const citizensFor = async (phase: Phase, ms: number) => {
        const until = Date.now() + ms;
        for (let i = 0; Date.now() < until; i++) {
          const pass = passes[next++ % passes.length]!;
          const booking = i % 3 === 2 && booker < passes.length && slots.length > 0;
          const sent = performance.now();
          const answer = booking
            ? await call(h.tally, `${h.stack.edge}/api/bookings`, { method: "POST", headers: jsonBearer(passes[booker]!), body: JSON.stringify({ slotId: slots[booker++ % slots.length] }) })
            : await call(h.tally, `${h.stack.edge}/api/bookings/me`, { headers: bearer(pass) });
          const took = performance.now() - sent;
          phase.requests++;
          (booking ? phase.bookingLatencyMs : phase.latencyMs).push(took);
          // A booking made (201) or one this citizen holds (200); no booking yet is a 404 with the shape.
          const fine = answer.ok && (booking ? answer.status === 201 || answer.status === 200 : answer.status === 200 || answer.status === 404);
          if (fine) phase.ok++;
          else phase.failed.push(`${booking ? "booking" : "my booking"}: ${answer.ok ? `${answer.status} ${answer.text.slice(0, 100)}` : answer.cause}`);
          await sleep(200);
        }
      };
      await citizensFor(phases.before, phaseMs);
      h.event(`flood starts: ${loops} connections of GET ${h.stack.origin}/api/slots?region=11 without a pass`);
      const flood = runLoad({
        url: `${h.stack.origin}/api/slots?region=11`,
        method: "GET",
        connections: loops,
        durationSeconds: Math.ceil((LOAD_START_MS + phaseMs) / 1000) + 2,
        timeoutSeconds: 30,
      });
      await sleep(LOAD_START_MS);
      await citizensFor(phases.during, phaseMs);
      const attacker = floodFigures(await flood);

      const summary = (p: Phase) => ({
        requests: p.requests,
        successShare: p.requests ? p.ok / p.requests : 0,
        myBookingLatencyMs: latencies(p.latencyMs),
        bookingLatencyMs: latencies(p.bookingLatencyMs),
        failures: p.failed.slice(0, 5),
      });
      const before = summary(phases.before);
      const during = summary(phases.during);
      const refused = attacker.byStatus["401"] ?? 0;
      const unanswered = attacker.errors + attacker.timeouts;
      h.event(
        `flood over: the origin answered ${attacker.requests} pass-less requests, ${attacker.perSecond}/s (${refused} with 401, ${attacker.requests - refused} otherwise, ${unanswered} errors or timeouts); ` +
          `citizens through the edge p50/p95 ${before.myBookingLatencyMs.p50}/${before.myBookingLatencyMs.p95} ms before, ${during.myBookingLatencyMs.p50}/${during.myBookingLatencyMs.p95} ms during; ` +
          `${(during.successShare * 100).toFixed(1)}% successful during`,
      );
      h.figure("attacker", attacker);
      h.figure("citizensBefore", before);
      h.figure("citizensDuring", during);
      if (refused !== attacker.requests || refused === 0) h.fail(`the origin answered ${attacker.requests - refused} of ${attacker.requests} pass-less requests with something other than 401: ${JSON.stringify(attacker.byStatus)}`);
      if (during.successShare < 0.99) h.fail(`the citizens' requests were ${(during.successShare * 100).toFixed(1)}% successful during the flood: ${during.failures.slice(0, 3).join("; ")}`);
    },
  };
}

export function originCrash(ctx: ScenarioContext): ScenarioSpec {
  /** How long after the origin is back the bookings may still be refused before the scenario fails. */
  const boundMs = 30_000;
  /** Bookings answered without a refusal for this long count as "succeeding again". */
  const steadyMs = 3_000;
  return {
    name: "origin-crash",
    title: "Origin crashes for a few seconds under a booking crowd",
    item: 24.4,
    fault: "kill -9 of the origin while admitted citizens book through the edge (one attempt every 0.2 s, each with the next pass not yet booked); the supervisor restarts it",
    database: "pglite",
    crowd: { citizens: ctx.quick ? 20 : 40, arrivalMs: 3_000 },
    async run(h) {
      const passes = await admittedCitizens(h, ctx.quick ? 60 : 100);
      if (passes.length === 0) return;
      const slots = await openSlots(h, passes[0]!);
      const unbooked = [...passes];
      const attempts: Array<{ at: number; status: number | string; retryAfter: string | null }> = [];
      let attempting = true;
      let turn = 0;
      const loop = (async () => {
        while (attempting && unbooked.length > 0) {
          // The next pass not yet booked, in turn, so that no pass comes near its limit while refused.
          const i = turn++ % unbooked.length;
          const pass = unbooked[i]!;
          const answer = await call(h.tally, `${h.stack.edge}/api/bookings`, {
            method: "POST",
            headers: jsonBearer(pass),
            body: JSON.stringify({ slotId: slots[(passes.length - unbooked.length) % Math.max(1, slots.length)] }),
          });
          attempts.push({ at: Date.now(), status: answer.ok ? answer.status : answer.cause, retryAfter: answer.ok ? answer.headers.get("retry-after") : null });
          if (answer.ok && (answer.status === 201 || answer.status === 200)) unbooked.splice(i, 1);
          await sleep(200);
        }
      })();
      await sleep(2_000);
      const pids = h.stack.kill("origin", "SIGKILL");
      const killedAt = Date.now();
      if (pids.length === 0) h.fail("no origin process found to kill");
      h.event(`kill -9 origin (pids ${pids.join(", ")})`);
      const backIn = await h.serving("origin", 90_000);
      if (backIn === undefined) {
        h.fail("the origin did not serve again within 90 s of kill -9");
        attempting = false;
        await loop;
        return;
      }
      const backAt = killedAt + backIn;
      h.event(`origin serving again ${backIn} ms after kill -9`);
      // Until bookings have gone through without a refusal for steadyMs, or the bound.
      const steady = await h.until(() => {
        const last = attempts.at(-1);
        const refusedSince = attempts.filter((a) => a.at > backAt && a.status !== 201 && a.status !== 200).at(-1);
        const since = refusedSince?.at ?? backAt;
        return unbooked.length === 0 || (last !== undefined && last.at - since >= steadyMs && attempts.some((a) => a.at > since && (a.status === 201 || a.status === 200)));
      }, boundMs + steadyMs);
      attempting = false;
      await loop;

      const ok = (a: (typeof attempts)[number]) => a.status === 201 || a.status === 200;
      const afterBack = attempts.filter((a) => a.at > backAt);
      const firstOk = afterBack.find(ok);
      const lastRefused = afterBack.filter((a) => !ok(a)).at(-1);
      const refusedDown = attempts.filter((a) => a.at > killedAt && a.at <= backAt && !ok(a)).length;
      const figures = {
        originDownMs: backIn,
        firstBookingAfterBackMs: firstOk ? firstOk.at - backAt : null,
        lastRefusalAfterBackMs: lastRefused ? lastRefused.at - backAt : null,
        attemptsWhileDown: attempts.filter((a) => a.at > killedAt && a.at <= backAt).length,
        refusedWhileDown: refusedDown,
        attemptsAfterBack: afterBack.length,
        refusedAfterBack: afterBack.filter((a) => !ok(a)).length,
        retryAfterSeen: [...new Set(attempts.filter((a) => a.status === 503).map((a) => a.retryAfter))],
        byStatus: attempts.reduce<Record<string, number>>((m, a) => ((m[String(a.status)] = (m[String(a.status)] ?? 0) + 1), m), {}),
        booked: passes.length - unbooked.length,
      };
      h.figure("bookings", figures);
      h.event(
        `bookings succeed again ${figures.lastRefusalAfterBackMs === null ? 0 : figures.lastRefusalAfterBackMs} ms after the origin is back ` +
          `(first one after ${figures.firstBookingAfterBackMs} ms); ${figures.refusedAfterBack} of ${figures.attemptsAfterBack} attempts refused after it was back, ${figures.refusedWhileDown} while down`,
      );
      if (!steady) h.fail(`bookings were still refused ${boundMs / 1000} s after the origin was back`);
    },
  };
}
