/**
 * `npm run simulate -- --live`: a scaled-down flash crowd against the running stack, over HTTP, through
 * the edge exactly as browsers would use it: join, poll at `nextPollMs`, claim the pass, list slots, book.
 * Some citizens abandon, some refresh (re-join), some let their pass lapse. It checks what must hold:
 * no slot oversold, no citizen booked twice, places kept across re-joins, and never more than MAX_ACTIVE
 * citizens using the origin at once. Start the stack first, with a rate that fits the crowd, e.g.
 *   ADMIT_PER_MINUTE=600 MAX_ACTIVE=60 npm start
 *   npm run simulate -- --live --scale 0.0002
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { bookingResponse, slotsResponse } from "../src/contract/booking.js";
import { errorBody } from "../src/contract/errors.js";
import { cohortInfo, joinResponse, queueStatus } from "../src/contract/queue.js";
import { regions } from "../src/contract/regions.js";
import { chart } from "./lib/svg.js";
import { quantile, rng, spearman } from "./lib/stats.js";
import type { SimulationOptions } from "./simulate.js";

const opsView = z.object({
  config: z.object({ admitPerMinute: z.number(), maxActive: z.number(), shards: z.number() }),
  cohorts: z.array(z.object({ id: z.string(), open: z.boolean(), joined: z.number(), admitted: z.number(), waiting: z.number(), active: z.number() })),
});

interface Citizen {
  identity: string;
  birthDate: string;
  arriveAt: number;
  abandons: boolean;
  refreshes: boolean;
  lapses: boolean;
  ticket?: string;
  seq?: number;
  joinedAt?: number;
  told?: { low: number; high: number } | null;
  admittedAt?: number;
  bookingId?: string;
  slotId?: number;
  outcome?: "booked" | "abandoned" | "lapsed" | "expired" | "failed";
  error?: string;
}

async function call(url: string, init: RequestInit = {}): Promise<{ status: number; body: unknown }> {
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await fetch(url, { ...init, signal: AbortSignal.timeout(15_000) });
      const text = await res.text();
      return { status: res.status, body: text ? (JSON.parse(text) as unknown) : null };
    } catch (err) {
      if (attempt >= 3) throw err;
      await sleep(500 * (attempt + 1));
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Runs the live replay and writes `simulate-live.*` to `dir`. */
export async function runLive(o: SimulationOptions, edge: string, dir: string, arrivalSeconds = 60): Promise<void> {
  const random = rng(o.seed);
  const cohorts = z.object({ cohorts: z.array(cohortInfo) }).parse((await call(`${edge}/api/cohorts`)).body).cohorts;
  const cohort = cohorts.find((c) => c.id === o.cohort && c.open) ?? cohorts.find((c) => c.open);
  if (!cohort) throw new Error(`no cohort is open at ${edge}`);
  const before = opsView.parse((await call(`${edge}/api/ops/queue`)).body);
  const { admitPerMinute, maxActive } = before.config;
  console.log(`Live replay: ${o.people} citizens into cohort ${cohort.id} at ${edge} (ADMIT_PER_MINUTE ${admitPerMinute}, MAX_ACTIVE ${maxActive})`);

  // The same surge shape as the full replay, compressed into `arrivalSeconds`.
  const citizens: Citizen[] = Array.from({ length: o.people }, (_, i) => {
    const u = random();
    const at = u < 0.6 ? Math.min(1, -Math.log(1 - random()) / 8) : random();
    const year = cohort.birthYears[0] + Math.floor(random() * (cohort.birthYears[1] - cohort.birthYears[0] + 1));
    return {
      identity: `live-${o.seed}-${i}-${Math.floor(random() * 1e9)}`,
      birthDate: `${year}-0${1 + Math.floor(random() * 9)}-1${Math.floor(random() * 9)}`,
      arriveAt: at * arrivalSeconds * 1000,
      abandons: random() < o.abandonShare,
      refreshes: random() < o.refreshShare,
      lapses: random() < o.lapseShare,
    };
  });
  citizens.sort((a, b) => a.arriveAt - b.arriveAt);

  const start = Date.now();
  let usingOrigin = 0;
  let mostUsingOrigin = 0;
  let placesLost = 0;
  const bookedBy = new Map<string, string[]>();
  const perSlot = new Map<number, number>();
  const capacityAtStart = new Map<number, number>();
  const timeline: { t: number; waiting: number; admitted: number; active: number }[] = [];
  let done = 0;

  const sampler = (async () => {
    while (done < citizens.length) {
      const view = opsView.safeParse((await call(`${edge}/api/ops/queue`).catch(() => ({ body: null }))).body);
      const c = view.success ? view.data.cohorts.find((x) => x.id === cohort.id) : undefined;
      const b = before.cohorts.find((x) => x.id === cohort.id)!;
      if (c) timeline.push({ t: (Date.now() - start) / 1000, waiting: c.waiting, admitted: c.admitted - b.admitted, active: c.active });
      if (c && timeline.length % 10 === 0) {
        console.log(`  ${Math.round((Date.now() - start) / 1000)} s: ${c.waiting} waiting, ${c.admitted - b.admitted} admitted, ${c.active} active, ${done}/${citizens.length} done`);
      }
      await sleep(1_000);
    }
  })();

  async function live(c: Citizen): Promise<void> {
    await sleep(Math.max(0, start + c.arriveAt - Date.now()));
    const headers = { "content-type": "application/json" };
    const joined = await call(`${edge}/api/queue/join`, { method: "POST", headers, body: JSON.stringify({ identity: c.identity, birthDate: c.birthDate }) });
    const j = joinResponse.safeParse(joined.body);
    if (!j.success) throw new Error(`join answered ${joined.status}: ${JSON.stringify(joined.body)}`);
    c.ticket = j.data.ticket;
    c.seq = j.data.status.seq;
    c.joinedAt = Date.now();
    c.told = j.data.status.etaSeconds;
    let status = j.data.status;
    const auth = { authorization: `Bearer ${c.ticket}` };
    const giveUpAt = c.abandons ? Date.now() + random() * 30_000 : Infinity;
    let refreshed = !c.refreshes;
    while (status.state !== "admitted") {
      if (status.state === "expired") {
        c.outcome = "expired";
        return;
      }
      if (Date.now() > giveUpAt) {
        c.outcome = "abandoned";
        return;
      }
      await sleep(status.nextPollMs);
      if (!refreshed && random() < 0.3) {
        // A refresh or a second device: joining again must return the same place.
        refreshed = true;
        const again = joinResponse.safeParse((await call(`${edge}/api/queue/join`, { method: "POST", headers, body: JSON.stringify({ identity: c.identity, birthDate: c.birthDate }) })).body);
        if (!again.success || again.data.status.seq !== c.seq) placesLost++;
      }
      const polled = await call(`${edge}/api/queue/status`, { headers: auth });
      const s = queueStatus.safeParse(polled.body);
      if (s.success) status = s.data;
    }
    c.admittedAt = Date.now();
    if (c.lapses) {
      c.outcome = "lapsed";
      return;
    }
    const pass = { authorization: `Bearer ${status.pass!}` };
    usingOrigin++;
    mostUsingOrigin = Math.max(mostUsingOrigin, usingOrigin);
    try {
      for (let attempt = 0; attempt < 8 && !c.bookingId; attempt++) {
        const region = regions[Math.floor(random() * regions.length)]!.code;
        const listed = slotsResponse.safeParse((await call(`${edge}/api/slots?region=${region}`, { headers: pass })).body);
        const open = listed.success ? listed.data.slots.filter((s) => s.remaining > 0) : [];
        for (const s of listed.success ? listed.data.slots : []) if (!capacityAtStart.has(s.id)) capacityAtStart.set(s.id, s.remaining + (perSlot.get(s.id) ?? 0));
        const slot = open[Math.floor(random() * Math.min(open.length, 5))];
        if (!slot) continue;
        const res = await call(`${edge}/api/bookings`, { method: "POST", headers: { ...pass, ...headers }, body: JSON.stringify({ slotId: slot.id }) });
        const booked = bookingResponse.safeParse(res.body);
        if ((res.status === 201 || res.status === 200) && booked.success) {
          c.bookingId = booked.data.booking.id;
          c.slotId = slot.id;
          if (res.status === 201) {
            perSlot.set(slot.id, (perSlot.get(slot.id) ?? 0) + 1);
            bookedBy.set(c.identity, [...(bookedBy.get(c.identity) ?? []), c.bookingId]);
          }
        } else {
          const e = errorBody.safeParse(res.body);
          if (!e.success || e.data.error.code !== "slot_full") c.error = `booking answered ${res.status}`;
        }
      }
      c.outcome = c.bookingId ? "booked" : "failed";
    } finally {
      usingOrigin--;
    }
  }

  await Promise.all(
    citizens.map((c) =>
      live(c)
        .catch((err: unknown) => {
          c.outcome = "failed";
          c.error = String(err);
        })
        .finally(() => done++),
    ),
  );
  await sampler;

  const admitted = citizens.filter((c) => c.admittedAt !== undefined && c.joinedAt !== undefined);
  const waits = admitted.map((c) => (c.admittedAt! - c.joinedAt!) / 1000);
  const told = admitted.filter((c) => c.told);
  const within = told.filter((c) => {
    const w = (c.admittedAt! - c.joinedAt!) / 1000;
    return w >= c.told!.low - 3 && w <= c.told!.high + 3;
  }).length;
  const oversold = [...perSlot].filter(([id, n]) => n > (capacityAtStart.get(id) ?? Infinity)).length;
  const twice = [...bookedBy.values()].filter((b) => b.length > 1).length;
  const minutes = Math.max(1, (Math.max(...admitted.map((c) => c.admittedAt!)) - start) / 60_000);
  const byOutcome = Object.fromEntries(["booked", "abandoned", "lapsed", "expired", "failed"].map((k) => [k, citizens.filter((c) => c.outcome === k).length]));
  const report = {
    edge,
    cohort: cohort.id,
    people: o.people,
    config: before.config,
    outcomes: byOutcome,
    waitSeconds: { p50: quantile(waits, 0.5), p90: quantile(waits, 0.9), p99: quantile(waits, 0.99), max: quantile(waits, 1) },
    admittedPerMinute: admitted.length / minutes,
    etaWithinRange: told.length ? within / told.length : null,
    fairnessSpearman: admitted.length > 2 ? spearman(Float64Array.from(admitted.map((c) => c.joinedAt!)), Float64Array.from(admitted.map((c) => c.admittedAt!))) : null,
    checks: {
      oversoldSlots: oversold,
      citizensBookedTwice: twice,
      placesLostOnRejoin: placesLost,
      mostCitizensUsingOriginAtOnce: mostUsingOrigin,
      maxActive,
      mostActiveSeen: Math.max(0, ...timeline.map((x) => x.active)),
    },
    errors: citizens.filter((c) => c.error).slice(0, 5).map((c) => c.error),
  };
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "simulate-live.json"), JSON.stringify(report, null, 2));
  writeFileSync(
    join(dir, "simulate-live-queue.svg"),
    chart({
      title: `Live replay: ${o.people} citizens, cohort ${cohort.id}`,
      xLabel: "seconds",
      yLabel: "people",
      series: [
        { name: "waiting", points: timeline.map((x) => [x.t, x.waiting]) },
        { name: "admitted (total)", points: timeline.map((x) => [x.t, x.admitted]) },
        { name: "active", points: timeline.map((x) => [x.t, x.active]) },
        { name: "MAX_ACTIVE", points: timeline.map((x) => [x.t, maxActive]), dashed: true },
      ],
    }),
  );
  console.log(JSON.stringify(report, null, 2));
  const ok = oversold === 0 && twice === 0 && placesLost === 0 && mostUsingOrigin <= maxActive && report.checks.mostActiveSeen <= maxActive;
  if (!ok) {
    console.error("live replay: an invariant was broken (see checks above)");
    process.exitCode = 1;
  }
}
