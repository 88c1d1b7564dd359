/**
 * Checks a cohort's pre-queue draw from the outside, trusting nothing the edge says that can be recomputed:
 *
 *   npm run verify-draw -- <edge URL> <cohort> [ticket] [--commitment <hex>]
 *
 * - the revealed seed hashes to the published commitment (and, with --commitment, to the one you saved
 *   before the opening: the edge cannot have switched seeds);
 * - each shard's published draw values are in order, with no repeats;
 * - with a ticket: its draw value, recomputed here as HMAC-SHA256(seed, ticket id), is in its shard's list;
 *   given the whole ticket (what an app holds) it also asks the edge for the ticket's status and checks
 *   that the rank and place it reports are the value's position in the published list, and that the
 *   admissions so far agree with that order.
 *
 * The ticket is either the ticket id (the `draw.ticketId` of the status answer: a citizen on the web page
 * opens <edge>/api/queue/status in the same browser and copies it) or the ticket itself (the `ticket` of
 * the join answer). Exit code 0 when every check passes, 1 on any mismatch, 2 on bad arguments or an
 * edge that cannot be read.
 */
import { z } from "zod";
import { drawInfo, queueStatus, type DrawInfo, type QueueStatus } from "../src/contract/queue.js";
import { drawCommitment, drawValue, rankOf, DRAW_HEX } from "../src/edge/prequeue/draw.js";

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
  let status: QueueStatus | undefined = isJwt ? await getJson(statusUrl, queueStatus, { authorization: `Bearer ${args.ticket}` }) : undefined;
  let draw: DrawInfo = await getJson(drawUrl, drawInfo);
  console.log(`Draw of cohort ${draw.cohort}: pre-queue from ${draw.prequeueOpensAt}, line opens ${draw.opensAt}`);
  console.log(`  commitment ${draw.commitment}`);

  if (args.savedCommitment !== undefined) {
    if (args.savedCommitment === draw.commitment) ok("the commitment is the one you saved");
    else bad(`the commitment changed: you saved ${args.savedCommitment}`);
  }
  if (draw.seed === undefined || draw.shards === undefined) {
    console.log(`The seed is revealed at ${draw.opensAt}. Keep the commitment above and run this again then with --commitment ${draw.commitment}.`);
    return problems.length === 0 ? 0 : 1;
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

  if (args.ticket !== undefined) {
    const ticketId = ticketIdOf(args.ticket);
    const value = await drawValue(draw.seed, ticketId);
    const found = draw.shards.map((s) => ({ shard: s, rank: rankOf(s.values, value) })).find((f) => f.rank >= 0);
    console.log(`Ticket ${ticketId}: draw value HMAC-SHA256(seed, ticket id) = ${value}`);
    if (!found) {
      bad("that value is in no shard's published list: this ticket was not in the pre-queue, or the list leaves it out");
    } else {
      const { shard, rank } = found;
      const place = shard.firstSeq + rank;
      ok(`it is number ${rank + 1} of ${shard.values.length} in shard ${shard.shard}, so its place is ${place}`);
      if (status) {
        const told = status.draw;
        if (told && told.value === value && told.rank === rank + 1 && told.shard === shard.shard && status.seq === place) {
          ok(`the edge tells this ticket the same: rank ${told.rank}, place ${status.seq} (${status.state})`);
        } else {
          bad(`the edge tells this ticket otherwise: ${JSON.stringify({ state: status.state, seq: status.seq, draw: told })}`);
        }
        // The line reaches places in order, so the first `admitted` of the list are in (let in, or passed over
        // while away and perhaps back: "cameBack") and no one after them is.
        const isIn = (s: QueueStatus) => s.state === "admitted" || s.state === "expired" || s.cameBack === true;
        let published = shard.admitted;
        if (isIn(status) && rank + 1 > published) {
          await sleep(SETTLE_MS);
          draw = await getJson(drawUrl, drawInfo);
          published = draw.shards?.find((s) => s.shard === shard.shard)?.admitted ?? published;
        } else if (!isIn(status) && rank + 1 <= published) {
          await sleep(SETTLE_MS);
          status = await getJson(statusUrl, queueStatus, { authorization: `Bearer ${args.ticket}` });
        }
        if (isIn(status) === rank + 1 <= published) ok(`admissions agree with the published order (${published} of the shard's list let in; this ticket ${isIn(status) ? "is" : "is not yet"})`);
        else bad(`admissions disagree with the published order: ${published} of the list let in, this ticket (number ${rank + 1}) is ${status.state}`);
      }
    }
  }

  console.log(problems.length === 0 ? "VERDICT: the draw checks out." : `VERDICT: MISMATCH (${problems.length} problem${problems.length === 1 ? "" : "s"}).`);
  return problems.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Usage ? err.message : err);
    process.exit(2);
  },
);
