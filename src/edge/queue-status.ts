import type { QueueStatus } from "../contract/queue.js";
import type { EdgeConfig } from "./config.js";
import { estimateWait, extrapolate, MAX_POLL_MS, type ShardSnapshot } from "./estimate.js";
import { signPass } from "./passes.js";
import { cachedSnapshot, callShard, remember, shardName, shardStub } from "./shard-client.js";
import type { TicketFields } from "./tickets.js";

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
export async function ticketStatus(env: Env, config: EdgeConfig, ticket: TicketFields, now: number): Promise<TicketStatus> {
  const address = { cohort: ticket.cohort, shard: ticket.shard };
  const { snapshot, fetchedAt } = await cachedSnapshot(env, address, now);
  // Elapsed on the Worker's clock since the snapshot arrived: the object's clock may be another machine's.
  const present = extrapolate(snapshot, now - fetchedAt);
  if (ticket.seq > present.serving) return { status: waiting(config, ticket, present) };

  const claim = await callShard(() => shardStub(env, address).claim(ticket.seq, ticket.jti));
  if (claim.state === "waiting" && claim.snapshot) {
    // The object's own word, as of now: shown as is, not carried forward.
    remember(shardName(address), claim.snapshot, now);
    return { status: waiting(config, ticket, claim.snapshot) };
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
  // An expired ticket's admission lapsed unclaimed. An unknown ticket is signed by us but absent from its
  // shard: the line was reset. Either way the place is gone, and the honest answer is to join again.
  return { status: { state: "expired", cohort: ticket.cohort, seq: ticket.seq, ahead: 0, etaSeconds: null, nextPollMs: MAX_POLL_MS } };
}

function waiting(config: EdgeConfig, ticket: TicketFields, snapshot: ShardSnapshot): QueueStatus {
  const estimate = estimateWait(ticket.seq, snapshot, config.shards);
  return {
    state: snapshot.paused ? "paused" : "waiting",
    cohort: ticket.cohort,
    seq: ticket.seq,
    ahead: estimate.ahead,
    etaSeconds: estimate.etaSeconds,
    nextPollMs: estimate.nextPollMs,
  };
}
