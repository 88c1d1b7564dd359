/**
 * Checks a cohort's pre-queue draw from the outside, trusting nothing the edge says that can be recomputed:
 *
 *   npm run verify-draw -- <edge URL> <cohort> [ticket] [--commitment <hex>]
 *
 * - the revealed seed hashes to the published commitment (and, with --commitment, to the one you saved
 *   before the opening: the edge cannot have switched seeds);
 * - each shard's published draw values are in order, with no repeats;
 * - the shards' lists merge into the cohort's one order by the published rule (bucket of the value's first
 *   three hex digits, then shard, then value), and the admissions so far agree with it: whoever the line
 *   has reached, in any shard, everyone before them in the one order has been reached too (given a couple
 *   of seconds, as the shards hear of the line's progress about once a second);
 * - with a ticket: its draw value, recomputed here as HMAC-SHA256(seed, ticket id), is in its shard's list,
 *   and its position in the one order is printed; given the whole ticket (what an app holds) it also asks
 *   the edge for the ticket's status and checks that the rank, the count and the place it reports are the
 *   value's, and that whether it is in yet agrees with its shard's published admissions.
 *
 * The ticket is either the ticket id (the `draw.ticketId` of the status answer: a citizen on the web page
 * opens <edge>/api/queue/status in the same browser and copies it) or the ticket itself (the `ticket` of
 * the join answer). Exit code 0 when every check passes, 1 on any mismatch, 2 on bad arguments or an
 * edge that cannot be read.
 */
import { z } from "zod";
import { drawInfo, queueStatus, type DrawInfo, type QueueStatus } from "../src/contract/queue.js";
import { drawCommitment, drawValue, rankOf, DRAW_HEX } from "../src/edge/prequeue/draw.js";
import { DRAW_ORDER, drawPosition, neededBefore } from "../src/edge/prequeue/draw-order.js";

const USAGE = "usage: npm run verify-draw -- <edge URL> <cohort> [ticket id or ticket] [--commitment <hex saved before the opening>]";
/** How long to let a snapshot-fed answer catch up before calling a disagreement about admissions real. */
const SETTLE_MS = 2_000;

class Usage extends Error {}

interface Args {
  edge: string;
  cohort: string;
  ticket?: string;
  savedCommitment?: string;
}

function parseArgs(argv: string[]): Args {
  const rest = [...argv];
  let savedCommitment: string | undefined;
  const flag = rest.indexOf("--commitment");
  if (flag >= 0) {
    savedCommitment = rest.splice(flag, 2)[1];
    if (savedCommitment === undefined || !DRAW_HEX.test(savedCommitment)) throw new Usage("--commitment takes 64 lowercase hex digits");
  }
  const [edge, cohort, ticket, extra] = rest;
  if (!edge || !cohort || extra !== undefined) throw new Usage(USAGE);
  if (!URL.canParse(edge)) throw new Usage(`not a URL: ${edge}`);
  return { edge: edge.replace(/\/+$/, ""), cohort, ticket, savedCommitment };
}

async function getJson<T>(url: string, schema: z.ZodType<T>, headers: Record<string, string> = {}): Promise<T> {
  let res: Response;
  try {
    res = await fetch(url, { headers: { "cache-control": "no-cache", ...headers }, signal: AbortSignal.timeout(15_000) });
  } catch (err) {
    throw new Usage(`cannot reach ${url}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const text = await res.text();
  if (!res.ok) throw new Usage(`${url} answered ${res.status}: ${text}`);
  const parsed = schema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Usage(`${url} answered something that is not a draw/status: ${parsed.error.message}`);
  return parsed.data;
}

/** The ticket id in a ticket (a JWT), read without verifying it: the draw value is recomputed, not trusted. */
function ticketIdOf(ticket: string): string {
  if (!ticket.includes(".")) return ticket;
  const payload = ticket.split(".")[1] ?? "";
  const claims = z.object({ jti: z.string().min(1) }).safeParse(JSON.parse(Buffer.from(payload, "base64url").toString("utf8")));
  if (!claims.success) throw new Usage("the ticket has no ticket id (jti)");
  return claims.data.jti;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const drawUrl = `${args.edge}/api/cohorts/${encodeURIComponent(args.cohort)}/draw`;
  const statusUrl = `${args.edge}/api/queue/status`;
  const problems: string[] = [];
  const ok = (line: string) => console.log(`  ok    ${line}`);
  const bad = (line: string) => {
    problems.push(line);
    console.log(`  FAIL  ${line}`);
  };

  // The ticket's status first, then the draw: admissions only move forward, so the draw read after the
  // status has admitted at least as many as the status saw (give or take a snapshot's second).
  const isJwt = args.ticket?.includes(".") ?? false;
  const status: QueueStatus | undefined = isJwt ? await getJson(statusUrl, queueStatus, { authorization: `Bearer ${args.ticket}` }) : undefined;
  const draw: DrawInfo = await getJson(drawUrl, drawInfo);
  console.log(`Draw of cohort ${draw.cohort}: pre-queue from ${draw.prequeueOpensAt}, line opens ${draw.opensAt}`);
  console.log(`  commitment ${draw.commitment}`);

  if (args.savedCommitment !== undefined) {
    if (args.savedCommitment === draw.commitment) ok("the commitment is the one you saved");
    else bad(`the commitment changed: you saved ${args.savedCommitment}`);
  }
  if (draw.seed === undefined || draw.shards === undefined) {
    console.log(`The seed is revealed at ${draw.opensAt}. Keep the commitment above and run this again then with --commitment ${draw.commitment}.`);
    return verdict(problems);
  }
  console.log(`  seed       ${draw.seed}`);
  if ((await drawCommitment(draw.seed)) === draw.commitment) ok("SHA-256(seed) is the commitment");
  else bad("SHA-256(seed) is NOT the commitment: the seed was not the one committed to");

  for (const shard of draw.shards) {
    const ordered = shard.values.every((v, i) => i === 0 || shard.values[i - 1]! < v);
    const line = `shard ${shard.shard}: ${shard.values.length} pre-queue tickets at places ${shard.firstSeq}..${shard.firstSeq + shard.values.length - 1}, ${shard.admitted} let in so far`;
    if (!shard.placed) console.log(`  ..    shard ${shard.shard}: not placed yet`);
    else if (ordered && shard.admitted <= shard.values.length) ok(line);
    else bad(`${line}: the list is not in draw order, repeats a value, or admits more than it holds`);
  }
  if (draw.shards.some((s) => !s.placed)) {
    console.log("The cohort's one order is known once every shard has placed its pre-queue: run this again in a few seconds.");
    return verdict(problems);
  }
  if (JSON.stringify(draw.order) !== JSON.stringify(DRAW_ORDER)) bad(`the draw does not publish the rule this script merges by: ${JSON.stringify(draw.order)}`);
  const lists = draw.shards;
  const total = lists.reduce((n, s) => n + s.values.length, 0);
  console.log(`The cohort's one order: ${total} pre-queue tickets of ${lists.length} shards, by ${DRAW_ORDER.by.join(", then ")}`);

  // Everyone the line has reached so far must have everyone before them in the one order reached too. The
  // shards act on the line's progress about once a second, and answers come from snapshots about as old:
  // what the first read needs must be there a little later.
  const reachedAt = (d: DrawInfo) => lists.map((l) => d.shards?.find((s) => s.shard === l.shard)?.admitted ?? 0);
  const reached = reachedAt(draw);
  const needed = neededBefore(lists, reached);
  const behind = (now: readonly number[]) => lists.flatMap((l, i) => (now[i]! < needed[i]! ? [`shard ${l.shard}: ${now[i]} let in, ${needed[i]} before someone let in`] : []));

  const ticket = args.ticket === undefined ? undefined : await locateTicket(args.ticket, draw.seed, lists, ok, bad);
  // The ticket's own shard: the first `admitted` of its list are in (let in, or passed over while away and
  // perhaps back: "cameBack"), and no one after them is.
  const isIn = (s: QueueStatus) => s.state === "admitted" || s.state === "expired" || s.cameBack === true;
  const ownDisagrees = (s: QueueStatus, admitted: number) => ticket !== undefined && isIn(s) !== ticket.index < admitted;
  const ownReached = (r: readonly number[]) => (ticket ? r[lists.findIndex((l) => l.shard === ticket.shard)]! : 0);

  let later = reached;
  let laterStatus = status;
  if (behind(reached).length > 0 || (status && ownDisagrees(status, ownReached(reached)))) {
    await sleep(SETTLE_MS);
    if (status) laterStatus = await getJson(statusUrl, queueStatus, { authorization: `Bearer ${args.ticket}` });
    later = reachedAt(await getJson(drawUrl, drawInfo));
  }
  const lagging = behind(later);
  const admittedSoFar = reached.reduce((n, k) => n + k, 0);
  if (lagging.length === 0) ok(`admissions agree with the one order: ${admittedSoFar} of ${total} let in, and everyone before them`);
  else bad(`admissions disagree with the one order, ${SETTLE_MS} ms on: ${lagging.join("; ")}`);

  if (ticket && status && laterStatus) {
    const told = status.draw;
    if (told && told.value === ticket.value && told.rank === ticket.position && told.of === total && told.shard === ticket.shard && status.seq === ticket.place) {
      ok(`the edge tells this ticket the same: rank ${told.rank} of ${told.of}, place ${status.seq} (${status.state})`);
    } else {
      bad(`the edge tells this ticket otherwise: ${JSON.stringify({ state: status.state, seq: status.seq, draw: told })}`);
    }
    // Read in this order (status, then draw), a ticket seen in is in the later list; one not seen in yet
    // while its shard's list says it is may be asked again.
    let published = ownReached(reached);
    let final = status;
    if (ownDisagrees(status, published)) {
      if (isIn(status)) published = ownReached(later);
      else final = laterStatus;
    }
    if (!ownDisagrees(final, published)) ok(`its shard's admissions agree (${published} of the shard's list let in; this ticket ${isIn(final) ? "is" : "is not yet"})`);
    else bad(`its shard's admissions disagree: ${published} of the list let in, this ticket (number ${ticket.index + 1}) is ${final.state}`);
  }

  return verdict(problems);
}

function verdict(problems: readonly string[]): number {
  console.log(problems.length === 0 ? "VERDICT: the draw checks out." : `VERDICT: MISMATCH (${problems.length} problem${problems.length === 1 ? "" : "s"}).`);
  return problems.length === 0 ? 0 : 1;
}

/** The ticket's value, recomputed, and where it stands: its shard and index there, its place, and its position in the one order. */
async function locateTicket(ticket: string, seed: string, lists: NonNullable<DrawInfo["shards"]>, ok: (line: string) => void, bad: (line: string) => void) {
  const ticketId = ticketIdOf(ticket);
  const value = await drawValue(seed, ticketId);
  console.log(`Ticket ${ticketId}: draw value HMAC-SHA256(seed, ticket id) = ${value}`);
  const found = lists.map((s) => ({ shard: s, index: rankOf(s.values, value) })).find((f) => f.index >= 0);
  if (!found) {
    bad("that value is in no shard's published list: this ticket was not in the pre-queue, or the list leaves it out");
    return undefined;
  }
  const { shard, index } = found;
  const located = { ticketId, value, shard: shard.shard, index, place: shard.firstSeq + index, position: drawPosition(lists, shard.shard, index) };
  ok(`it is number ${located.position} of the cohort's one order (number ${index + 1} of shard ${shard.shard}'s list), so its place is ${located.place}`);
  return located;
}
main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Usage ? err.message : err);
    process.exit(2);
  },
);
