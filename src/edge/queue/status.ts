import type { QueueStatus } from "../../contract/queue.js";
import { cohortIsOpen, type CohortConfig, type EdgeConfig } from "../config.js";
import { cohortSeed, drawValue } from "../prequeue/draw.js";
import type { ShardSnapshot } from "../shard/snapshot.js";
import { estimateWait, MAX_POLL_MS, MIN_POLL_MS, waitRange } from "./wait-estimate.js";
import { cohortAhead } from "./cohort-ahead.js";
import { isPlacing } from "./count-ahead.js";
import { listsLeft } from "./left-places.js";
import { extrapolate } from "./extrapolate.js";
import { signPass } from "../tokens/pass.js";
import { nearTheFront, seenNearFront } from "./presence.js";
import { drawLength, indexInDraw, isAtIndex, positionInDraws } from "../prequeue/draw-prefixes.js";
import { cohortDrawPrefixes, shardDrawPrefixes } from "../prequeue/published-draw.js";
import { callShard, shardStub } from "./shard-client.js";
import { cachedSnapshot, remember } from "./snapshot-cache.js";
import { shardName } from "./shard-name.js";
import type { TicketFields } from "../tokens/ticket.js";

/** Once admitted the page has what it needs; it asks again only to refresh an expiring pass. */
const ADMITTED_POLL_MS = 30_000;

export interface TicketStatus {
  status: QueueStatus;
  /** Set when admitted: the signed pass and when it stops working (seconds since epoch). */
  pass?: { token: string; exp: number };
}

/**
 * The status of a ticket. A ticket behind its shard's serving counter is answered from the cached
 * snapshot alone, carried forward by the admission rule to this moment so the line visibly moves between
 * refreshes; only a ticket at the front calls its Durable Object, to claim its pass. That keeps the
 * objects' load bounded by the number of shards and admitted people, not by the crowd. The carried-forward
 * counter only decides who asks the object: a ticket is admitted when the object says so, never before.
 */
export async function ticketStatus(env: Env, config: EdgeConfig, ticket: TicketFields, now: number, background: Background = ignore): Promise<TicketStatus> {
  const cohort = config.cohorts.find((co) => co.id === ticket.cohort);
  if (cohort?.prequeueOpensAt === undefined) {
    // A ticket without a place in a cohort with no pre-queue (any more) points at nothing that exists.
    return ticket.seq === undefined ? { status: gone(ticket.cohort, undefined) } : placedStatus(env, config, { ...ticket, seq: ticket.seq }, now, background);
  }
  const drawn = await drawnPlace(env, config, cohort, ticket, now);
  if (drawn === "prequeue") return { status: prequeueStatus(cohort, now) };
  if (drawn === "gone") return { status: gone(ticket.cohort, ticket.seq) };
  const result = await placedStatus(env, config, drawn.ticket, now, background);
  return drawn.draw ? { ...result, status: { ...result.status, draw: drawn.draw } } : result;
}

/**
 * The ticket's place in its shard's line: the one it carries, or the draw's for a pre-queue ticket after
 * the opening; "prequeue" while it has none yet, "gone" when the line no longer holds it.
 */
export async function placeOf(env: Env, config: EdgeConfig, ticket: TicketFields, now: number): Promise<number | "prequeue" | "gone"> {
  const cohort = config.cohorts.find((co) => co.id === ticket.cohort);
  if (cohort?.prequeueOpensAt === undefined) return ticket.seq ?? "gone";
  const drawn = await drawnPlace(env, config, cohort, ticket, now);
  return typeof drawn === "string" ? drawn : drawn.ticket.seq;
}

type Draw = NonNullable<QueueStatus["draw"]>;

/**
 * Where the draw put a ticket of a cohort with a pre-queue. A pre-queue ticket carries no place: before
 * the opening it has none; after, its place is its value's index in the shard's published list (place =
 * firstSeq + index), found from the ticket id without asking the object for this citizen. Its draw rank is
 * its position in the cohort's one order, merged from every shard's published list (draw-order.ts), found
 * from each list's prefixes (draw-prefixes.ts): each is fetched once per isolate, so polls still cost no
 * object call, and an isolate holds a cohort of millions in a few megabytes. A ticket that carries a place (a
 * join after the placement, or a pre-queue citizen who joined again since) is told its draw too when its
 * place is one of the draw's.
 */
async function drawnPlace(
  env: Env,
  config: EdgeConfig,
  cohort: CohortConfig,
  ticket: TicketFields,
  now: number,
): Promise<"prequeue" | "gone" | { ticket: TicketFields & { seq: number }; draw?: Draw }> {
  // Until the opening nothing can be placed: answered at the edge, with no call at all.
  if (ticket.seq === undefined && !cohortIsOpen(cohort, now)) return "prequeue";
  const draws = await cohortDrawPrefixes(env, cohort.id, config.shards, now);
  // A ticket of a shard past SHARDS (the count was lowered since it joined) is in no published list.
  const own = draws[ticket.shard] ?? (await shardDrawPrefixes(env, { cohort: cohort.id, shard: ticket.shard }, now));
  if (own.placedAt === null) return ticket.seq === undefined ? "prequeue" : { ticket: { ...ticket, seq: ticket.seq } };
  const value = await drawValue(await cohortSeed(config.drawSecret, cohort.id), ticket.jti);
  const index = ticket.seq === undefined ? indexInDraw(own, value) : ticket.seq - own.firstSeq;
  if (!isAtIndex(own, index, value)) {
    // A pre-queue ticket missing from its shard's draw was never in it: the line was reset.
    return ticket.seq === undefined ? "gone" : { ticket: { ...ticket, seq: ticket.seq } };
  }
  const placed = { ...ticket, seq: own.firstSeq + index };
  // The cohort's order is known once every shard has revealed its list; until then the place alone.
  if (ticket.shard >= draws.length || draws.some((d) => d.placedAt === null)) return { ticket: placed };
  const of = draws.reduce((sum, d) => sum + drawLength(d), 0);
  return { ticket: placed, draw: { ticketId: ticket.jti, shard: ticket.shard, value, rank: positionInDraws(draws, ticket.shard, index), of } };
}

/** Waiting for the opening: the page says when, and asks again shortly after it. */
function prequeueStatus(cohort: CohortConfig, now: number): QueueStatus {
  const untilOpening = Date.parse(cohort.opensAt) - now;
  return {
    state: "prequeue",
    cohort: cohort.id,
    ahead: 0,
    etaSeconds: null,
    // Polls just after the opening are answered from the shard's cached draw, so a crowd asking at
    // once costs the objects little; a little spread still helps.
    nextPollMs: Math.round(Math.min(MAX_POLL_MS, Math.max(MIN_POLL_MS, untilOpening + Math.random() * MIN_POLL_MS))),
    opensAt: cohort.opensAt,
  };
}

/** Work a request starts and need not wait for (the request's waitUntil). */
export type Background = (work: Promise<unknown>) => void;
const ignore: Background = () => undefined;

/** The status of a ticket with a place in the line. */
async function placedStatus(env: Env, config: EdgeConfig, ticket: TicketFields & { seq: number }, now: number, background: Background): Promise<TicketStatus> {
  const address = { cohort: ticket.cohort, shard: ticket.shard };
  const { snapshot, fetchedAt } = await cachedSnapshot(env, address, now);
  // Elapsed on the Worker's clock since the snapshot arrived: the object's clock may be another machine's.
  const present = extrapolate(snapshot, now - fetchedAt);
  // Given up: its shard lists the places given up nearest the front (a place further back is told so when the line reaches it).
  if (listsLeft(present.left, ticket.seq)) return { status: left(ticket.cohort, ticket.seq) };
  if (ticket.seq > present.serving) {
    const ahead = await cohortAhead(env, address, ticket.seq, present, now);
    if (nearTheFront(ticket.seq, present, config.presenceSeconds, ahead)) tellPresence(env, address, ticket, now, background);
    return { status: waiting(ticket, present, ahead) };
  }

  const claim = await callShard(() => shardStub(env, address).claim(ticket.seq, ticket.jti));
  if (claim.state === "waiting" && claim.snapshot) {
    // The object's own word, as of now: shown as is, not carried forward.
    remember(shardName(address), claim.snapshot, now);
    return { status: waiting(ticket, claim.snapshot, await cohortAhead(env, address, ticket.seq, claim.snapshot, now)) };
  }
  if (claim.state === "returning" && claim.snapshot) {
    remember(shardName(address), claim.snapshot, now);
    return { status: cameBack(ticket, claim.snapshot, claim.returnedAhead ?? 0, claim.wasAway !== false) };
  }
  if (claim.state === "admitted" && claim.pass) {
    const { iat, exp } = claim.pass;
    const token = await signPass(config, { sub: ticket.sub, jti: ticket.jti, cohort: ticket.cohort, shard: ticket.shard, seq: ticket.seq, iat, exp });
    return {
      status: {
        state: "admitted",
        cohort: ticket.cohort,
        seq: ticket.seq,
        ahead: 0,
        etaSeconds: { low: 0, high: 0 },
        nextPollMs: ADMITTED_POLL_MS,
        pass: token,
        passExpiresAt: new Date(exp * 1000).toISOString(),
      },
      pass: { token, exp },
    };
  }
  if (claim.state === "left") return { status: left(ticket.cohort, ticket.seq) };
  // An expired ticket's admission lapsed unclaimed. An unknown ticket is signed by us but absent from its
  // shard: the line was reset. Either way the place is gone, and the honest answer is to join again.
  return { status: gone(ticket.cohort, ticket.seq) };
}

/**
 * The shard will hear, within about a second, that this ticket's holder polled: from this request, in the
 * background, if no other request of the isolate has told that shard lately, else from the next that does.
 */
function tellPresence(env: Env, address: { cohort: string; shard: number }, ticket: TicketFields & { seq: number }, now: number, background: Background): void {
  const name = shardName(address);
  seenNearFront.hold(name, ticket.seq, ticket.jti);
  const refs = seenNearFront.takeDue(name, now);
  if (!refs) return;
  background(
    shardStub(env, address)
      .seen(refs)
      .catch((err: unknown) => {
        // Not fatal: they go with the next report, well within the presence window.
        console.error("could not tell a shard who polled near the front:", err);
        seenNearFront.giveBack(name, refs);
      }),
  );
}

/**
 * Back after the line passed the citizen over: next, behind only those who came back before them. Told
 * they were away only if they were: a citizen the line reached before anything was heard from them (far
 * back, behind a block of silent tickets it passed over at once) is simply next.
 */
function cameBack(ticket: TicketFields & { seq: number }, snapshot: ShardSnapshot, returnedAhead: number, wasAway: boolean): QueueStatus {
  return {
    ...lineState(snapshot),
    cohort: ticket.cohort,
    seq: ticket.seq,
    ahead: returnedAhead,
    etaSeconds: waitRange(returnedAhead + 1, returnedAhead + 1, snapshot),
    nextPollMs: MIN_POLL_MS,
    ...(wasAway ? { cameBack: true as const } : {}),
  };
}

/** The citizen gave the place up: nothing to wait for; joining again is a new place at the back. */
function left(cohort: string, seq: number): QueueStatus {
  return { state: "left", cohort, seq, ahead: 0, etaSeconds: null, nextPollMs: MAX_POLL_MS };
}

function gone(cohort: string, seq: number | undefined): QueueStatus {
  return { state: "expired", cohort, seq, ahead: 0, etaSeconds: null, nextPollMs: MAX_POLL_MS };
}

/**
 * Paused, or waiting; and when waiting, why the line moves more slowly if it does: the autopilot cut the
 * rate because the origin struggles, the operators lowered the rate, or the cohort is at its cap.
 */
function lineState(snapshot: ShardSnapshot): Pick<QueueStatus, "state" | "originBusy" | "slowedBy"> {
  if (snapshot.paused || snapshot.line?.cohort.paused) return { state: "paused" };
  const reason = snapshot.origin?.reason;
  if (reason === "errors above target" || reason === "latency above target") return { state: "waiting", originBusy: true };
  const cohort = snapshot.line?.cohort;
  if (cohort?.slowedByOperators) return { state: "waiting", slowedBy: "operators" };
  const full = cohort && !snapshot.line?.alone ? cohort.held >= cohort.activeCap : snapshot.active >= snapshot.activeCap;
  return full ? { state: "waiting", slowedBy: "capacity" } : { state: "waiting" };
}

function waiting(ticket: TicketFields & { seq: number }, snapshot: ShardSnapshot, ahead: number | undefined): QueueStatus {
  const estimate = estimateWait(ticket.seq, snapshot, ahead);
  return {
    ...lineState(snapshot),
    ...(isPlacing(ticket.seq, snapshot.line) ? { placing: true as const } : {}),
    cohort: ticket.cohort,
    seq: ticket.seq,
    ahead: estimate.ahead,
    etaSeconds: estimate.etaSeconds,
    nextPollMs: estimate.nextPollMs,
  };
}
