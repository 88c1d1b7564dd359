/**
 * `npm run simulate -- --live`: a scaled-down flash crowd against the running stack, over HTTP, through
 * the edge exactly as apps use it: join with an id_token, poll at `nextPollMs`, claim the pass, list
 * slots, book. Each citizen is a distinct phone number (E.164, +8210XXXXXXXX, drawn afresh every run so
 * nobody is already in the line) with a birth date in the open cohort; their id_tokens come from the
 * development identity provider's `POST /dev/id-tokens` (`--idp`, default http://127.0.0.1:8789), all
 * minted before the first arrival with the provider's mint secret (DEV_IDP_MINT_SECRET, from the
 * environment or the .dev.vars `npm start` wrote). Some citizens abandon (stop polling within 30 s of
 * joining, so the line passes over their place when it reaches it), some refresh (log in again: a fresh
 * id_token for the same phone, then re-join), some let their pass lapse. It checks what must hold: no slot
 * oversold, no citizen booked twice, places kept across re-joins, never more than MAX_ACTIVE citizens
 * using the origin at once, and no request refused by a rate limit (429). It measures the cohort's one
 * line as the crowd sees it (bench/lib/live-line.ts): Spearman ρ between joining and admission, the count
 * ahead each citizen was shown against the truth the crowd knows, and how often a shown count or estimate
 * rose between two answers and what the line was doing then; simulate-live.md has the table. Start the
 * stack first, with a rate that fits the crowd, e.g.
 *   ADMIT_PER_MINUTE=600 MAX_ACTIVE=60 npm start
 *   npm run simulate -- --live --scale 0.0002
 */
import { createHash, randomInt } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { bookingResponse, slotsResponse } from "../src/contract/booking.js";
import { errorBody } from "../src/contract/errors.js";
import { opsQueue } from "../src/contract/ops.js";
import { cohortInfo, joinResponse, queueStatus, type QueueStatus } from "../src/contract/queue.js";
import { regions } from "../src/contract/regions.js";
import { mintOperatorSession } from "../src/edge/operators/operator-tokens.js";
import { countAhead, FIRST_SECONDS, passedShare, readTicket, rises, SNAPSHOT_AGE_MS, type Answer, type CountAheadReport, type Footprint, type LineSample, type RiseCount, type RisesReport } from "./lib/live-line.js";
import { chart } from "./lib/svg.js";
import { quantile, rng, spearman } from "./lib/stats.js";
import type { SimulationOptions } from "./lib/replay-options.js";

/** The development provider's answer to `POST /dev/id-tokens`. */
const idTokensResponse = z.object({ idTokens: z.array(z.string().min(1)) });
/** The most citizens `/dev/id-tokens` takes in one call. */
const ID_TOKENS_PER_CALL = 1_000;

interface Citizen {
  phoneNumber: string;
  birthdate: string;
  /** The id_token of their first join, minted before the replay starts. */
  idToken: string;
  arriveAt: number;
  abandons: boolean;
  refreshes: boolean;
  lapses: boolean;
  ticket?: string;
  seq?: number;
  /** What the citizen knows of its place, for the one-line figures (bench/lib/live-line.ts). */
  footprint?: Footprint;
  joinedAt?: number;
  /** The first range the page showed (not while finding the place), and when it was told. */
  told?: { low: number; high: number; at: number };
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

/**
 * Notes an answer citizen `c` was given: a place in the line (and the first range the page showed it), or
 * the first word that it was admitted or lapsed.
 */
function heard(c: Citizen, f: Footprint, status: QueueStatus, sentAt: number, answeredAt: number): void {
  if (status.state === "waiting" && !status.placing && status.etaSeconds) c.told ??= { ...status.etaSeconds, at: answeredAt };
  if (status.state === "admitted") f.admittedAt ??= answeredAt;
  else if (status.state === "expired") f.expiredAt ??= answeredAt;
  else if (status.state === "waiting" || status.state === "paused") {
    const answer: Answer = {
      sentAt,
      answeredAt,
      ahead: status.ahead,
      eta: status.etaSeconds,
      paused: status.state === "paused",
      slowedBy: status.originBusy ? "origin" : status.slowedBy,
      cameBack: status.cameBack === true,
      placing: status.placing === true,
    };
    f.answers.push(answer);
  }
}

/** A secret of the running `npm start`: from the environment, else from the .dev.vars it wrote. */
function localSecret(name: "OPERATOR_SECRET" | "DEV_IDP_MINT_SECRET"): string | undefined {
  const fromEnv = process.env[name];
  if (fromEnv) return fromEnv;
  try {
    return new RegExp(`^${name}='([^']*)'`, "m").exec(readFileSync(".dev.vars", "utf8"))?.[1] || undefined;
  } catch {
    // No .dev.vars: the caller says what is missing.
    return undefined;
  }
}

/** id_tokens for `citizens` from the development provider, in their order, at most 1,000 per call. */
async function mintIdTokens(idp: string, citizens: Array<{ phoneNumber: string; birthdate: string }>): Promise<string[]> {
  const secret = localSecret("DEV_IDP_MINT_SECRET");
  if (!secret) throw new Error("no DEV_IDP_MINT_SECRET in the environment or .dev.vars: the provider mints id_tokens only for its holder");
  const out: string[] = [];
  for (let i = 0; i < citizens.length; i += ID_TOKENS_PER_CALL) {
    const batch = citizens.slice(i, i + ID_TOKENS_PER_CALL);
    const res = await call(`${idp}/dev/id-tokens`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${secret}` },
      body: JSON.stringify({ citizens: batch.map((c) => ({ phoneNumber: c.phoneNumber, birthdate: c.birthdate })) }),
    });
    const minted = idTokensResponse.safeParse(res.body);
    if (res.status !== 200 || !minted.success || minted.data.idTokens.length !== batch.length) {
      const e = errorBody.safeParse(res.body);
      throw new Error(
        `${idp}/dev/id-tokens answered ${res.status}${e.success ? `: ${e.data.error.code}: ${e.data.error.message}` : ""}` +
          (res.status === 409 ? " (the provider already knows one of these numbers with another birth date; run again: numbers are drawn afresh)" : "") +
          (res.status === 401 ? " (the mint secret is not the running provider's: take it from the .dev.vars of the npm start you run)" : ""),
      );
    }
    out.push(...minted.data.idTokens);
  }
  return out;
}

/**
 * A birth date for a phone number, fixed by the number: a number the provider has seen before (in an
 * earlier replay) then comes back with the birth date its registry holds, never a conflicting one.
 */
function birthdateFor(phoneNumber: string, years: readonly [number, number]): string {
  const h = createHash("sha256").update(phoneNumber).digest();
  const year = years[0] + (h.readUInt32BE(0) % (years[1] - years[0] + 1));
  const month = 1 + (h.readUInt32BE(4) % 12);
  const day = 1 + (h.readUInt32BE(8) % 28);
  return `${year}-${String(month).padStart(2, "0")}-${String(day).padStart(2, "0")}`;
}

/** The ops view is for operators: a session signed with the OPERATOR_SECRET of `npm start` (the environment, or .dev.vars). */
async function asOperator(): Promise<RequestInit> {
  const secret = localSecret("OPERATOR_SECRET");
  if (!secret) throw new Error("no OPERATOR_SECRET in the environment or .dev.vars: the replay reads the operators' view");
  return { headers: { cookie: `wr_operator=${await mintOperatorSession(secret)}` } };
}

/** Someone admitted this much later than a citizen who joined this much after them passed them (the issue's 5 s). */
const PASSED_GAP_MS = 5_000;

/** Runs the live replay and writes `simulate-live.*` to `dir`. */
export async function runLive(o: SimulationOptions, edge: string, idp: string, dir: string, arrivalSeconds = 60): Promise<void> {
  const random = rng(o.seed);
  const cohorts = z.object({ cohorts: z.array(cohortInfo) }).parse((await call(`${edge}/api/cohorts`)).body).cohorts;
  const cohort = cohorts.find((c) => c.id === o.cohort && c.open) ?? cohorts.find((c) => c.open);
  if (!cohort) throw new Error(`no cohort is open at ${edge}`);
  const operator = await asOperator();
  const before = opsQueue.parse((await call(`${edge}/api/ops/queue`, operator)).body);
  const { admitPerMinute, maxActive } = before.config;
  if (o.people > 100_000_000) throw new Error("at most 100,000,000 citizens: one per 010 mobile number");
  console.log(`Live replay: ${o.people} citizens into cohort ${cohort.id} at ${edge} (ADMIT_PER_MINUTE ${admitPerMinute}, MAX_ACTIVE ${maxActive}), id_tokens from ${idp}`);

  // Consecutive mobile numbers from a random start, drawn afresh every run (not from the seed): a number
  // already in the line from an earlier replay would re-join its old place instead of queueing.
  const firstNumber = randomInt(0, 100_000_000 - o.people + 1);
  // The same surge shape as the full replay, compressed into `arrivalSeconds`.
  const people = Array.from({ length: o.people }, (_, i) => {
    const u = random();
    const at = u < 0.6 ? Math.min(1, -Math.log(1 - random()) / 8) : random();
    const phoneNumber = `+8210${String(firstNumber + i).padStart(8, "0")}`;
    return {
      phoneNumber,
      birthdate: birthdateFor(phoneNumber, cohort.birthYears),
      arriveAt: at * arrivalSeconds * 1000,
      abandons: random() < o.abandonShare,
      refreshes: random() < o.refreshShare,
      lapses: random() < o.lapseShare,
    };
  });
  // Every first join's id_token is minted before the first arrival, so the provider never paces the crowd.
  const mintStarted = Date.now();
  const tokens = await mintIdTokens(idp, people);
  const mintSeconds = (Date.now() - mintStarted) / 1000;
  console.log(`  ${tokens.length} id_tokens from ${idp}/dev/id-tokens in ${mintSeconds.toFixed(1)} s`);
  const citizens: Citizen[] = people.map((p, i) => ({ ...p, idToken: tokens[i]! }));
  citizens.sort((a, b) => a.arriveAt - b.arriveAt);

  const start = Date.now();
  const loadAtStart = loadavg()[0]!;
  let usingOrigin = 0;
  let mostUsingOrigin = 0;
  let placesLost = 0;
  const bookedBy = new Map<string, string[]>();
  // Requests refused by a rate limit (429), by kind: the crowd is honest, so each should stay 0.
  const rateLimited = { joins: 0, polls: 0, origin: 0 };
  let refreshTokens = 0;
  const perSlot = new Map<number, number>();
  const capacityAtStart = new Map<number, number>();
  const timeline: { t: number; waiting: number; admitted: number; active: number }[] = [];
  // What the operators' view said the line was doing, to tell why a count or an estimate rose.
  const lineStates: LineSample[] = [];
  let done = 0;

  const sampler = (async () => {
    while (done < citizens.length) {
      const view = opsQueue.safeParse((await call(`${edge}/api/ops/queue`, operator).catch(() => ({ body: null }))).body);
      const c = view.success ? view.data.cohorts.find((x) => x.id === cohort.id) : undefined;
      const b = before.cohorts.find((x) => x.id === cohort.id)!;
      if (c) timeline.push({ t: (Date.now() - start) / 1000, waiting: c.waiting, admitted: c.admitted - b.admitted, active: c.active });
      if (c) lineStates.push({ at: Date.now(), state: c.line.state, shardsAlone: c.shardsAlone });
      if (c && timeline.length % 10 === 0) {
        console.log(`  ${Math.round((Date.now() - start) / 1000)} s: ${c.waiting} waiting, ${c.admitted - b.admitted} admitted, ${c.active} active, ${done}/${citizens.length} done`);
      }
      await sleep(1_000);
    }
  })();

  // Three times as long as the whole crowd needs at the configured rate (at least ten minutes): a
  // citizen still not admitted by then is stuck, and the replay says so rather than waiting for ever.
  const waitLimitMs = Math.max(600_000, ((3 * o.people) / admitPerMinute) * 60_000);

  async function live(c: Citizen): Promise<void> {
    await sleep(Math.max(0, start + c.arriveAt - Date.now()));
    const headers = { "content-type": "application/json" };
    const joinSentAt = Date.now();
    const joined = await call(`${edge}/api/queue/join`, { method: "POST", headers, body: JSON.stringify({ idToken: c.idToken }) });
    if (joined.status === 429) rateLimited.joins++;
    const j = joinResponse.safeParse(joined.body);
    if (!j.success) throw new Error(`join answered ${joined.status}: ${JSON.stringify(joined.body)}`);
    c.ticket = j.data.ticket;
    c.seq = j.data.status.seq;
    c.joinedAt = Date.now();
    const placed = readTicket(c.ticket);
    const footprint: Footprint = { shard: placed.shard, seq: placed.seq, joinSentAt, joinAnsweredAt: c.joinedAt, ticketSecond: placed.iat, answers: [] };
    c.footprint = footprint;
    heard(c, footprint, j.data.status, joinSentAt, c.joinedAt);
    let status = j.data.status;
    const auth = { authorization: `Bearer ${c.ticket}` };
    const giveUpAt = c.abandons ? Date.now() + random() * 30_000 : Infinity;
    let refreshed = !c.refreshes;
    let badPolls = 0;
    while (status.state !== "admitted") {
      if (status.state === "expired") {
        footprint.expiredAt = footprint.expiredAt ?? Date.now();
        c.outcome = "expired";
        return;
      }
      if (Date.now() - c.joinedAt > waitLimitMs) {
        throw new Error(`still ${status.state} (seq ${c.seq}) after ${Math.round(waitLimitMs / 1000)} s`);
      }
      if (Date.now() > giveUpAt) {
        c.outcome = "abandoned";
        return;
      }
      await sleep(status.nextPollMs);
      if (!refreshed && random() < 0.3) {
        // A refresh or a second device: the citizen logs in again (a fresh id_token for the same phone,
        // so the same `sub`) and joins again, which must return the same place.
        refreshed = true;
        const [fresh] = await mintIdTokens(idp, [c]);
        refreshTokens++;
        const rejoinSentAt = Date.now();
        const rejoined = await call(`${edge}/api/queue/join`, { method: "POST", headers, body: JSON.stringify({ idToken: fresh }) });
        if (rejoined.status === 429) rateLimited.joins++;
        const again = joinResponse.safeParse(rejoined.body);
        if (!again.success || again.data.status.seq !== c.seq) placesLost++;
        else heard(c, footprint, again.data.status, rejoinSentAt, Date.now());
      }
      const pollSentAt = Date.now();
      const polled = await call(`${edge}/api/queue/status`, { headers: auth });
      if (polled.status === 429) rateLimited.polls++;
      const s = queueStatus.safeParse(polled.body);
      if (s.success) {
        heard(c, footprint, s.data, pollSentAt, Date.now());
        status = s.data;
        badPolls = 0;
      } else if (++badPolls >= 10) {
        // A ticket the edge no longer answers for would otherwise poll for ever and the replay never end.
        throw new Error(`status poll answered ${polled.status} ${JSON.stringify(polled.body).slice(0, 300)} 10 times in a row (state ${status.state} before)`);
      }
    }
    c.admittedAt = footprint.admittedAt ?? Date.now();
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
        const slots = await call(`${edge}/api/slots?region=${region}`, { headers: pass });
        if (slots.status === 429) rateLimited.origin++;
        const listed = slotsResponse.safeParse(slots.body);
        const open = listed.success ? listed.data.slots.filter((s) => s.remaining > 0) : [];
        // A slot list may be up to a second old (the edge caches it), so a booking this replay made since
        // may be both in perSlot and not yet in `remaining`: the slot's capacity bounds the sum.
        for (const s of listed.success ? listed.data.slots : []) if (!capacityAtStart.has(s.id)) capacityAtStart.set(s.id, Math.min(s.capacity, s.remaining + (perSlot.get(s.id) ?? 0)));
        const slot = open[Math.floor(random() * Math.min(open.length, 5))];
        if (!slot) continue;
        const res = await call(`${edge}/api/bookings`, { method: "POST", headers: { ...pass, ...headers }, body: JSON.stringify({ slotId: slot.id }) });
        if (res.status === 429) rateLimited.origin++;
        const booked = bookingResponse.safeParse(res.body);
        if ((res.status === 201 || res.status === 200) && booked.success) {
          c.bookingId = booked.data.booking.id;
          c.slotId = slot.id;
          if (res.status === 201) {
            perSlot.set(slot.id, (perSlot.get(slot.id) ?? 0) + 1);
            bookedBy.set(c.phoneNumber, [...(bookedBy.get(c.phoneNumber) ?? []), c.bookingId]);
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
          // fetch's own message ("fetch failed") says nothing; its cause says what (refused, reset, timeout).
          const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : "";
          c.error = `${String(err)}${cause}`;
        })
        .finally(() => done++),
    ),
  );
  await sampler;

  const admitted = citizens.filter((c) => c.admittedAt !== undefined && c.joinedAt !== undefined);
  const footprints = citizens.flatMap((c) => (c.footprint ? [c.footprint] : []));
  const waits = admitted.map((c) => (c.admittedAt! - c.joinedAt!) / 1000);
  const told = admitted.filter((c) => c.told);
  const within = told.filter((c) => {
    const w = (c.admittedAt! - c.told!.at) / 1000;
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
    idp,
    idTokens: { beforeStart: tokens.length, mintSeconds, forRefreshes: refreshTokens },
    config: before.config,
    outcomes: byOutcome,
    waitSeconds: { p50: quantile(waits, 0.5), p90: quantile(waits, 0.9), p99: quantile(waits, 0.99), max: quantile(waits, 1) },
    admittedPerMinute: admitted.length / minutes,
    etaWithinRange: told.length ? within / told.length : null,
    fairnessSpearman: admitted.length > 2 ? spearman(Float64Array.from(admitted.map((c) => c.joinedAt!)), Float64Array.from(admitted.map((c) => c.admittedAt!))) : null,
    oneLine: {
      shards: before.config.shards,
      // Join and admission as the citizen saw them: the join's answer, the first answer that said admitted.
      passedByLaterJoiners: passedShare(admitted.map((c) => ({ joinedAt: c.joinedAt!, admittedAt: c.admittedAt! })), PASSED_GAP_MS),
      passedGapSeconds: PASSED_GAP_MS / 1000,
      snapshotAgeSeconds: SNAPSHOT_AGE_MS / 1000,
      countAhead: countAhead(footprints),
      rises: rises(footprints, lineStates),
      firstSeconds: FIRST_SECONDS,
      samplesWithShardsAlone: lineStates.filter((l) => l.shardsAlone > 0).length,
      lineStatesSeen: Object.fromEntries([...new Set(lineStates.map((l) => l.state))].map((st) => [st, lineStates.filter((l) => l.state === st).length])),
    },
    loadAverage: { atStart: loadAtStart, atEnd: loadavg()[0]! },
    checks: {
      oversoldSlots: oversold,
      citizensBookedTwice: twice,
      placesLostOnRejoin: placesLost,
      mostCitizensUsingOriginAtOnce: mostUsingOrigin,
      maxActive,
      mostActiveSeen: Math.max(0, ...timeline.map((x) => x.active)),
      rateLimited,
    },
    errors: citizens.filter((c) => c.error).slice(0, 5).map((c) => c.error),
  };
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "simulate-live.json"), JSON.stringify(report, null, 2));
  writeFileSync(join(dir, "simulate-live.md"), markdown(report));
  // Every answer each citizen was given, and the line's states: what the figures above were worked out
  // from, to look into a run; large, so beside the results and not in git (.gitignore: bench/.scratch/).
  const scratch = join(dir, "..", ".scratch");
  mkdirSync(scratch, { recursive: true });
  writeFileSync(join(scratch, "simulate-live-footprints.json"), JSON.stringify({ start, footprints, lineStates }));
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
  const limited = rateLimited.joins + rateLimited.polls + rateLimited.origin;
  const ok = oversold === 0 && twice === 0 && placesLost === 0 && limited === 0 && mostUsingOrigin <= maxActive && report.checks.mostActiveSeen <= maxActive;
  if (!ok) {
    console.error("live replay: an invariant was broken (see checks above)");
    process.exitCode = 1;
  }
  // A citizen who could not get through (the stack down, a refused token) leaves the checks above
  // vacuous for them: the replay only vouches for the crowd if nobody failed.
  if (byOutcome.failed! > 0) {
    console.error(`live replay: ${byOutcome.failed} citizens failed (see errors above)`);
    process.exitCode = 1;
  }
}

/** The figures of a live replay `markdown` prints. */
interface LiveFigures {
  edge: string;
  cohort: string;
  people: number;
  config: { admitPerMinute: number; maxActive: number; shards: number };
  outcomes: Record<string, number>;
  waitSeconds: { p50: number; p90: number; max: number };
  admittedPerMinute: number;
  etaWithinRange: number | null;
  fairnessSpearman: number | null;
  oneLine: {
    passedByLaterJoiners: number;
    passedGapSeconds: number;
    snapshotAgeSeconds: number;
    countAhead: CountAheadReport;
    rises: RisesReport;
    firstSeconds: number;
    samplesWithShardsAlone: number;
    lineStatesSeen: Record<string, number>;
  };
  loadAverage: { atStart: number; atEnd: number };
  checks: {
    oversoldSlots: number;
    citizensBookedTwice: number;
    placesLostOnRejoin: number;
    mostCitizensUsingOriginAtOnce: number;
    mostActiveSeen: number;
    rateLimited: { joins: number; polls: number; origin: number };
  };
}

/** `simulate-live.md`: the run's figures as a table, the one line's first. */
function markdown(r: LiveFigures): string {
  const n = (v: number, digits = 1) => (Number.isFinite(v) ? v.toFixed(digits) : "n/a");
  const pct = (v: number | null) => (v === null || !Number.isFinite(v) ? "n/a" : `${(v * 100).toFixed(1)}%`);
  const { countAhead: ca, rises: ri } = r.oneLine;
  const rise = (x: RiseCount) =>
    `${x.rises} of ${ri.pairs} (${x.citizens} citizens; ${x.withinFirstSeconds} within ${r.oneLine.firstSeconds} s of joining; biggest ${x.biggest}; ` +
    `line ${Object.entries(x.byLine).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${v}`).join(", ") || "-"}; ${x.whileShardsAlone} while shards admitted alone)`;
  return [
    `# Live replay: ${r.people} citizens, cohort ${r.cohort}, ${r.config.shards} shards`,
    "",
    `${r.edge}, ADMIT_PER_MINUTE ${r.config.admitPerMinute}, MAX_ACTIVE ${r.config.maxActive}; load average ${n(r.loadAverage.atStart)} at the start, ${n(r.loadAverage.atEnd)} at the end.`,
    "",
    "| figure | value |",
    "|---|---|",
    `| Spearman ρ, join vs admission | ${r.fairnessSpearman === null ? "n/a" : r.fairnessSpearman.toFixed(4)} |`,
    `| admitted more than ${r.oneLine.passedGapSeconds} s after someone who joined more than ${r.oneLine.passedGapSeconds} s after them | ${pct(r.oneLine.passedByLaterJoiners)} |`,
    `| answers showing the place as being found (no count, no range; left out below) | ${ca.placing} |`,
    `| count ahead shown − truth, over ${ca.answers} answers: mean / mean absolute / worst absolute | ${n(ca.error.meanSigned)} / ${n(ca.error.meanAbsolute)} / ${ca.error.worstAbsolute}` +
      `${ca.error.worstAt ? ` (shown ${ca.error.worstAt.ahead}, truth ${ca.error.worstAt.truth}, ${n(ca.error.worstAt.secondsAfterJoin)} s after joining)` : ""} |`,
    `| count ahead outside what the truth could have been (figures ≤ ${r.oneLine.snapshotAgeSeconds} s old): share / mean / worst | ${pct(ca.beyondKnowable.share)} / ${n(ca.beyondKnowable.mean, 2)} / ${ca.beyondKnowable.worst} (range ${n(ca.meanRangeWidth)} wide on average) |`,
    `| count ahead rose between two answers | ${rise(ri.countAhead)} |`,
    `| estimate rose between two answers | ${rise(ri.estimate)} |`,
    `| line states sampled (operators' view, about 1 s apart) | ${Object.entries(r.oneLine.lineStatesSeen).map(([k, v]) => `${k} ${v}`).join(", ")}; ${r.oneLine.samplesWithShardsAlone} with shards admitting alone |`,
    `| outcomes | ${Object.entries(r.outcomes).map(([k, v]) => `${v} ${k}`).join(", ")} |`,
    `| wait p50 / p90 / max | ${n(r.waitSeconds.p50, 0)} s / ${n(r.waitSeconds.p90, 0)} s / ${n(r.waitSeconds.max, 0)} s |`,
    `| admitted per minute | ${n(r.admittedPerMinute, 0)} |`,
    `| actual wait within the first range shown (from when it was shown) | ${pct(r.etaWithinRange)} |`,
    `| oversold slots / citizens booked twice / places lost on re-join | ${r.checks.oversoldSlots} / ${r.checks.citizensBookedTwice} / ${r.checks.placesLostOnRejoin} |`,
    `| answers 429 (rate limited): joins / polls / origin | ${r.checks.rateLimited.joins} / ${r.checks.rateLimited.polls} / ${r.checks.rateLimited.origin} |`,
    `| most citizens using the origin at once / most active seen (MAX_ACTIVE) | ${r.checks.mostCitizensUsingOriginAtOnce} / ${r.checks.mostActiveSeen} (${r.config.maxActive}) |`,
    "",
  ].join("\n");
}
