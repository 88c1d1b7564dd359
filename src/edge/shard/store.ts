import type { AutopilotState } from "../origin-health/autopilot.js";
import { joinKey, PREQUEUE_BUCKETS } from "../cohort/cohort-line.js";
import { CitizenIndex } from "./citizen-index.js";
import type { LeftPlaces } from "../queue/left-places.js";
import { migrate, type CounterRow, type MinuteRow, type PushRow, type TicketRow } from "./schema.js";
import type { NoticeKind } from "../../contract/push.js";

/**
 * A shard's storage: every SQL statement the object runs, the counters row (read once at the start, then
 * written through), and what the object keeps in memory between calls. All of that memory is derived from
 * SQLite, and all of it is forgotten at once when a transaction rolls back, so what the object remembers is
 * never ahead of what it wrote.
 */

/**
 * How many people hold capacity, kept between counts: the count and the earliest moment one of them can
 * stop holding it (a lower bound). Until then the count cannot fall, so no call needs to count.
 */
export interface Holding {
  count: number;
  earliestExpiry: number;
  countedAt: number;
}

/** The minute the operators' history is counting: the counters as it began, and the active count seen during it. */
export interface MinuteMark {
  minute: number;
  lastSeq: number;
  serving: number;
  admittedTotal: number;
  active: number;
  activeMax: number;
}

/** What the object keeps in memory; every field is derived from SQLite and may be forgotten at any time. */
export interface ShardMemory {
  holding: Holding | null;
  /** The observed pace, computed once per minute: it counts whole past minutes only. */
  pace: { minute: number; perMinute: number | null } | null;
  /** Citizen tag → seq of their tickets, read at the first join that needs it. */
  citizens: CitizenIndex | null;
  /** The minute the operators' history is counting; null until the first tick after a start. */
  minuteMark: MinuteMark | null;
  /** The autopilot's state, as the counters row holds it. */
  autopilot: AutopilotState | null;
  /** How many who came back wait for capacity; null until counted (a tick then reads nothing when 0). */
  returnersWaiting: number | null;
  /** The places given up that the line has not reached, in place order; null until read. */
  left: number[] | null;
  /** Those places as the snapshot carries them, built from the list `of` (the same array while nothing changed). */
  leftPlaces: { of: readonly number[]; places: LeftPlaces | undefined } | null;
  /** How many tickets have a push subscription; null until counted (a tick then does no push work when 0). */
  pushSubscribers: number | null;
  /** Where push-notices.ts last looked for notices due: the serving counter and the near window; null: look. */
  noticesLooked: { serving: number; admittedTotal: number; window: number } | null;
  /** The minute push-notices.ts last dropped the subscriptions of ended tickets in. */
  pushSweptMinute: number | null;
}

function forgotten(): ShardMemory {
  return {
    holding: null, pace: null, citizens: null, minuteMark: null, autopilot: null, returnersWaiting: null, left: null, leftPlaces: null,
    pushSubscribers: null, noticesLooked: null, pushSweptMinute: null,
  };
}

/** A notice to put on the push queue once the transaction that decided it has committed. */
export interface DueNotice {
  seq: number;
  ticketId: string;
  kind: NoticeKind;
}

/** What the tick writes to the counters row when the line moved. */
export interface LineCounters {
  serving: number;
  credit: number;
  creditAt: number;
  firstAdmittedAt: number | null;
  admittedTotal: number;
  passedTotal: number;
  leastPresent: number;
}

export class ShardStore {
  memory: ShardMemory = forgotten();
  /**
   * Notices decided and marked queued by committed transactions, for the object to send after them. Kept
   * apart from `memory`, which a rollback forgets whole: a rollback drops only what its own section added.
   */
  readonly outbox: DueNotice[] = [];
  private readonly sql: SqlStorage;
  private row: CounterRow;
  private prunedMinute = 0;

  constructor(private readonly storage: DurableObjectStorage) {
    migrate(storage);
    this.sql = storage.sql;
    this.row = this.readCounters();
  }

  /** Runs a critical section in one SQLite transaction; if it rolls back, memory is read again from SQLite. */
  atomically<T>(section: () => T): T {
    const outboxBefore = this.outbox.length;
    try {
      return this.storage.transactionSync(section);
    } catch (err) {
      this.outbox.length = Math.min(this.outbox.length, outboxBefore);
      this.row = this.readCounters();
      this.memory = forgotten();
      throw err;
    }
  }

  // The counters row.

  get counters(): Readonly<CounterRow> {
    return this.row;
  }

  private readCounters(): CounterRow {
    return this.sql.exec<CounterRow>("SELECT * FROM counters WHERE id = 1").one();
  }

  recordAddress(cohort: string, shard: number): void {
    this.sql.exec("UPDATE counters SET cohort = ?, shard = ? WHERE id = 1", cohort, shard);
    this.row = { ...this.row, cohort, shard };
  }

  setLastSeq(lastSeq: number): void {
    if (lastSeq === this.row.last_seq) return;
    this.sql.exec("UPDATE counters SET last_seq = ? WHERE id = 1", lastSeq);
    this.row = { ...this.row, last_seq: lastSeq };
  }

  setAutopilot(stored: string): void {
    if (stored === this.row.autopilot) return;
    this.sql.exec("UPDATE counters SET autopilot = ? WHERE id = 1", stored);
    this.row = { ...this.row, autopilot: stored };
  }

  setLine(line: LineCounters): void {
    this.sql.exec(
      "UPDATE counters SET serving = ?, credit = ?, credit_at = ?, first_admitted_at = ?, admitted_total = ?, passed_total = ?, least_present = ? WHERE id = 1",
      line.serving, line.credit, line.creditAt, line.firstAdmittedAt, line.admittedTotal, line.passedTotal, line.leastPresent,
    );
    this.row = {
      ...this.row,
      serving: line.serving,
      credit: line.credit,
      credit_at: line.creditAt,
      first_admitted_at: line.firstAdmittedAt,
      admitted_total: line.admittedTotal,
      passed_total: line.passedTotal,
      least_present: line.leastPresent,
    };
  }

  // Tickets.

  ticket(seq: number): TicketRow | undefined {
    return this.sql.exec<TicketRow>("SELECT * FROM tickets WHERE seq = ?", seq).toArray()[0];
  }

  /** The citizen's newest ticket, found through the citizen index (read from SQLite on first use). */
  latestTicketOf(tag: number, citizenKey: string): TicketRow | undefined {
    const citizens = (this.memory.citizens ??= CitizenIndex.of(this.sql.exec<{ citizen_tag: number; seq: number }>("SELECT citizen_tag, seq FROM tickets ORDER BY seq").raw() as Iterable<[number, number]>));
    return citizens.latest(tag, (seq) => {
      const row = this.sql.exec<TicketRow & { citizen_key: string }>("SELECT * FROM tickets WHERE seq = ?", seq).one();
      return row.citizen_key === citizenKey ? row : undefined;
    });
  }

  addTicket(seq: number, ticketId: string, tag: number, citizenKey: string, now: number): void {
    this.sql.exec(
      "INSERT INTO tickets (seq, ticket_id, citizen_tag, citizen_key, joined_at, seen_at, order_key) VALUES (?, ?, ?, ?, ?, ?, ?)",
      seq, ticketId, tag, citizenKey, now, now, joinKey(now),
    );
    // Only once the row is written, so a join that failed leaves no trace in the index either.
    this.memory.citizens?.add(tag, seq);
  }

  markSeen(seq: number, now: number): void {
    this.sql.exec("UPDATE tickets SET seen_at = ? WHERE seq = ?", now, seq);
  }

  markSeenIfHeld(seq: number, ticketId: string, now: number): void {
    this.sql.exec("UPDATE tickets SET seen_at = ? WHERE seq = ? AND ticket_id = ?", now, seq, ticketId);
  }

  /** A holder back within the return window: next at the first free capacity. */
  comeBack(row: TicketRow, now: number, awayKnown: boolean): void {
    this.memory.returnersWaiting = null;
    this.sql.exec(
      "UPDATE tickets SET returned_at = ?, seen_at = ?, away_known = ?, passed_at = COALESCE(passed_at, active_until), admitted_at = NULL, active_until = NULL WHERE seq = ?",
      now, now, awayKnown ? 1 : 0, row.seq,
    );
  }

  /**
   * The holder gives the place up: it holds no capacity, is nobody's to come back to, and the line steps
   * over it. False if it had already been given up.
   */
  leave(seq: number, now: number): boolean {
    const cursor = this.sql.exec("UPDATE tickets SET left_at = ?, active_until = NULL, returned_at = NULL WHERE seq = ? AND left_at IS NULL", now, seq);
    if (cursor.rowsWritten === 0) return false;
    this.countDeparture();
    this.memory.holding = null;
    this.memory.returnersWaiting = null;
    this.memory.left = null;
    return true;
  }

  private countDeparture(): void {
    this.sql.exec("UPDATE counters SET left_total = left_total + 1 WHERE id = 1");
    this.row = { ...this.row, left_total: this.row.left_total + 1 };
  }

  /** The places given up that the line has not reached yet, in place order. */
  leftUnreached(): readonly number[] {
    const serving = this.row.serving;
    let left = this.memory.left;
    if (left === null) {
      left = this.sql.exec<{ seq: number }>("SELECT seq FROM tickets WHERE left_at IS NOT NULL AND seq > ? ORDER BY seq", serving).toArray().map((r) => r.seq);
    } else if (left.length > 0 && left[0]! <= serving) left = left.filter((seq) => seq > serving);
    this.memory.left = left;
    return left;
  }

  /** Departures per minute since `fromMinute` (minutes since the epoch), in the line and in the pre-queue. */
  departuresSince(fromMinute: number): Map<number, number> {
    const from = fromMinute * 60_000;
    const out = new Map<number, number>();
    const count = (query: string) => {
      for (const [minute, n] of this.sql.exec(query, from).raw()) out.set(minute as number, (out.get(minute as number) ?? 0) + (n as number));
    };
    count("SELECT left_at / 60000 AS minute, COUNT(*) FROM tickets WHERE left_at >= ? GROUP BY minute");
    // Once placed, the pre-queue's places are tickets, counted above.
    if (this.row.prequeue_placed_at === null) count("SELECT left_at / 60000 AS minute, COUNT(*) FROM prequeue WHERE left_at >= ? GROUP BY minute");
    return out;
  }

  /** How many who came back before this ticket's holder still wait. */
  returnedAhead(row: TicketRow): number {
    return this.sql
      .exec<{ n: number }>(
        "SELECT COUNT(*) AS n FROM tickets WHERE returned_at IS NOT NULL AND admitted_at IS NULL AND (returned_at < ? OR (returned_at = ? AND seq < ?))",
        row.returned_at, row.returned_at, row.seq,
      )
      .one().n;
  }

  /**
   * The pass is claimed: one person still holds capacity, only for longer, so the count stands and the
   * earliest expiry stays a lower bound.
   */
  claimPass(seq: number, claimedAt: number, passExp: number, holdUntil: number): void {
    this.sql.exec("UPDATE tickets SET claimed_at = ?, pass_exp = ?, active_until = ? WHERE seq = ?", claimedAt, passExp, holdUntil, seq);
  }

  /** The booking went through: the pass stops holding capacity. False if the ticket held no claimed pass. */
  completeBooking(seq: number, ticketId: string, now: number): boolean {
    const cursor = this.sql.exec(
      "UPDATE tickets SET completed_at = COALESCE(completed_at, ?), active_until = NULL WHERE seq = ? AND ticket_id = ? AND claimed_at IS NOT NULL",
      now, seq, ticketId,
    );
    if (cursor.rowsWritten === 0) return false;
    this.memory.holding = null;
    return true;
  }

  /** A pass was used: it holds capacity until `until` (never past its expiry), again if it had stopped. */
  passUsed(seq: number, ticketId: string, until: number, now: number): void {
    this.sql.exec(
      "UPDATE tickets SET active_until = MIN(pass_exp, ?) WHERE seq = ? AND ticket_id = ? AND claimed_at IS NOT NULL AND completed_at IS NULL AND pass_exp > ?",
      until, seq, ticketId, now,
    );
    this.memory.holding = null;
  }

  /** A completed ticket holds one unit of capacity until `until`, for a change made with booking access. */
  holdCapacity(seq: number, ticketId: string, until: number): void {
    this.sql.exec("UPDATE tickets SET active_until = ? WHERE seq = ? AND ticket_id = ? AND completed_at IS NOT NULL", until, seq, ticketId);
    this.memory.holding = null;
  }

  /** Ends that hold, if it is still the one set (`until` names it). */
  releaseCapacity(seq: number, ticketId: string, until: number): void {
    this.sql.exec("UPDATE tickets SET active_until = NULL WHERE seq = ? AND ticket_id = ? AND active_until = ?", seq, ticketId, until);
    this.memory.holding = null;
  }

  /** Admits every ticket in (fromServing, toServing]; the tick then marks those it passed over. */
  admitRange(fromServing: number, toServing: number, now: number, deadline: number): void {
    this.sql.exec("UPDATE tickets SET admitted_at = ?, active_until = ? WHERE seq > ? AND seq <= ?", now, deadline, fromServing, toServing);
  }

  admitOne(seq: number, now: number, deadline: number): void {
    this.sql.exec("UPDATE tickets SET admitted_at = ?, active_until = ? WHERE seq = ?", now, deadline, seq);
  }

  /** Reached while away: no admission, no capacity. */
  passOver(seq: number, now: number): void {
    this.sql.exec("UPDATE tickets SET admitted_at = NULL, active_until = NULL, passed_at = ? WHERE seq = ?", now, seq);
  }

  /** One who came back was away again when their turn came. */
  passOverReturner(seq: number, now: number): void {
    this.sql.exec("UPDATE tickets SET returned_at = NULL, passed_at = ? WHERE seq = ?", now, seq);
  }

  /** Who came back and waits, in the order they came back, with when each was last seen. */
  returners(): Array<{ seq: number; seen: number }> {
    return this.sql
      .exec<{ seq: number; seen: number }>("SELECT seq, COALESCE(seen_at, joined_at) AS seen FROM tickets WHERE returned_at IS NOT NULL AND admitted_at IS NULL ORDER BY returned_at, seq")
      .toArray();
  }

  /** When the holders of the next `limit` tickets after `afterSeq` were last seen, in seq order. */
  seenAfter(afterSeq: number, limit: number): Array<[seq: number, seenAt: number]> {
    return [...this.sql.exec("SELECT seq, COALESCE(seen_at, joined_at) FROM tickets WHERE seq > ? ORDER BY seq LIMIT ?", afterSeq, limit).raw()] as Array<[number, number]>;
  }

  /** How many hold capacity at `now`, and the earliest moment one of them stops. */
  countHolding(now: number): { n: number; first: number | null } {
    return this.sql.exec<{ n: number; first: number | null }>("SELECT COUNT(*) AS n, MIN(active_until) AS first FROM tickets WHERE active_until > ?", now).one();
  }

  // Admissions per minute: the observed pace.

  countAdmissions(minute: number, admitted: number, passed: number, keepMinutes: number): void {
    this.sql.exec(
      "INSERT INTO admissions_per_minute (minute, admitted, passed) VALUES (?, ?, ?) ON CONFLICT (minute) DO UPDATE SET admitted = admitted + excluded.admitted, passed = passed + excluded.passed",
      minute, admitted, passed,
    );
    if (minute !== this.prunedMinute) {
      this.sql.exec("DELETE FROM admissions_per_minute WHERE minute < ?", minute - keepMinutes);
      this.prunedMinute = minute;
    }
  }

  admittedInMinutes(fromMinute: number, toMinute: number): number {
    return this.sql.exec<{ n: number | null }>("SELECT SUM(admitted) AS n FROM admissions_per_minute WHERE minute >= ? AND minute < ?", fromMinute, toMinute).one().n ?? 0;
  }

  // The pre-queue.

  prequeueTicket(tag: number, citizenKey: string): { ticket_id: string; joined_at: number; left_at: number | null } | undefined {
    return this.sql
      .exec<{ ticket_id: string; joined_at: number; left_at: number | null }>(
        "SELECT ticket_id, joined_at, left_at FROM prequeue WHERE citizen_tag = ? AND citizen_key = ?",
        tag, citizenKey,
      )
      .toArray()[0];
  }

  /** A pre-queue ticket is given up: it keeps its draw value (the draw is published whole) and is placed as left. */
  leavePrequeue(drawValue: string, ticketId: string, now: number): "left" | "already" | "unknown" {
    const row = this.sql.exec<{ left_at: number | null }>("SELECT left_at FROM prequeue WHERE draw_value = ? AND ticket_id = ?", drawValue, ticketId).toArray()[0];
    if (!row) return "unknown";
    if (row.left_at !== null) return "already";
    this.sql.exec("UPDATE prequeue SET left_at = ? WHERE draw_value = ?", now, drawValue);
    this.countDeparture();
    return "left";
  }

  addPrequeueTicket(drawValue: string, ticketId: string, tag: number, citizenKey: string, now: number): void {
    this.sql.exec("INSERT INTO prequeue (draw_value, ticket_id, citizen_tag, citizen_key, joined_at) VALUES (?, ?, ?, ?, ?)", drawValue, ticketId, tag, citizenKey, now);
  }

  /**
   * Places every pre-queue ticket in the line in draw order, as places firstSeq, firstSeq + 1, …, seen at
   * `now`, and records the placement; returns the last place.
   */
  placePrequeue(firstSeq: number, now: number): number {
    // The order key of a draw value is its bucket (cohort-line.ts drawKey): its first three hex digits, less PREQUEUE_BUCKETS.
    const digit = (i: number) => `(instr('0123456789abcdef', substr(draw_value, ${i}, 1)) - 1)`;
    this.sql.exec(
      `INSERT INTO tickets (seq, ticket_id, citizen_tag, citizen_key, joined_at, seen_at, left_at, order_key)
       SELECT ? + ROW_NUMBER() OVER (ORDER BY draw_value), ticket_id, citizen_tag, citizen_key, joined_at, ?, left_at,
         ${digit(1)} * 256 + ${digit(2)} * 16 + ${digit(3)} - ${PREQUEUE_BUCKETS} FROM prequeue`,
      firstSeq - 1, now,
    );
    if (this.memory.citizens) {
      for (const [tag, seq] of this.sql.exec("SELECT citizen_tag, seq FROM tickets WHERE seq >= ? ORDER BY seq", firstSeq).raw()) {
        this.memory.citizens.add(tag as number, seq as number);
      }
    }
    const placed = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM prequeue").one().n;
    const lastSeq = firstSeq - 1 + placed;
    this.memory.left = null;
    this.sql.exec("UPDATE counters SET last_seq = ?, prequeue_placed_at = ?, prequeue_first_seq = ? WHERE id = 1", lastSeq, now, firstSeq);
    this.row = { ...this.row, last_seq: lastSeq, prequeue_placed_at: now, prequeue_first_seq: firstSeq };
    return lastSeq;
  }

  hasPrequeue(): boolean {
    return this.sql.exec("SELECT 1 FROM prequeue LIMIT 1").toArray().length > 0;
  }

  drawValues(): string[] {
    return this.sql.exec<{ draw_value: string }>("SELECT draw_value FROM prequeue ORDER BY draw_value").toArray().map((r) => r.draw_value);
  }

  // The cohort's one line (coordination.ts).

  setCoordination(stored: string): void {
    if (stored === this.row.coordination) return;
    this.sql.exec("UPDATE counters SET coordination = ? WHERE id = 1", stored);
    this.row = { ...this.row, coordination: stored };
  }

  /** The order keys of the first `limit` places after `afterSeq`, in place order (a ticket from before keys had its second of joining). */
  orderKeysAfter(afterSeq: number, limit: number): Array<[seq: number, key: number]> {
    return [...this.sql.exec("SELECT seq, COALESCE(order_key, joined_at / 1000) FROM tickets WHERE seq > ? ORDER BY seq LIMIT ?", afterSeq, limit).raw()] as Array<[number, number]>;
  }

  /** The cohort-wide ranks the coordinator gave; a run given twice is written once. */
  addRanks(runs: ReadonlyArray<readonly [firstSeq: number, count: number, rankBase: number]>): void {
    for (const [firstSeq, count, rankBase] of runs) {
      this.sql.exec("INSERT OR IGNORE INTO ranks (first_seq, count, rank_base) VALUES (?, ?, ?)", firstSeq, count, rankBase);
    }
  }

  /** The rank runs that cover places from `fromSeq` up to `toSeq`, in place order. */
  ranksBetween(fromSeq: number, toSeq: number): Array<[firstSeq: number, count: number, rankBase: number]> {
    return [
      ...this.sql
        .exec("SELECT first_seq, count, rank_base FROM ranks WHERE first_seq <= ? AND first_seq + count > ? ORDER BY first_seq", toSeq, fromSeq)
        .raw(),
    ] as Array<[number, number, number]>;
  }

  // The operators' per-minute history.

  lastMinute(): MinuteRow | undefined {
    return this.sql.exec<MinuteRow>("SELECT * FROM ops_minutes ORDER BY minute DESC LIMIT 1").toArray()[0];
  }

  minutesFrom(firstMinute: number): MinuteRow[] {
    return this.sql.exec<MinuteRow>("SELECT * FROM ops_minutes WHERE minute >= ? ORDER BY minute", firstMinute).toArray();
  }

  /** Writes a closed minute and drops those older than `keepMinutes` before `now`'s minute. */
  closeMinute(row: MinuteRow, nowMinute: number, keepMinutes: number): void {
    this.sql.exec(
      "INSERT OR REPLACE INTO ops_minutes (minute, joined, admitted, last_seq, serving, active_end, active_max, median_wait_ms, admitted_total, left_waiting) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      row.minute, row.joined, row.admitted, row.last_seq, row.serving, row.active_end, row.active_max, row.median_wait_ms, row.admitted_total, row.left_waiting,
    );
    this.sql.exec("DELETE FROM ops_minutes WHERE minute <= ?", nowMinute - keepMinutes);
  }

  /** The median wait (admission minus join) of the admitted tickets in (fromServing, toServing]; null if none. */
  medianWait(fromServing: number, toServing: number): number | null {
    if (toServing <= fromServing) return null;
    // A range of seq, so a primary-key scan; tickets passed over have no admission and no wait.
    const { n } = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM tickets WHERE seq > ? AND seq <= ? AND admitted_at IS NOT NULL", fromServing, toServing).one();
    if (n === 0) return null;
    const row = this.sql
      .exec<{ wait: number }>(
        "SELECT admitted_at - joined_at AS wait FROM tickets WHERE seq > ? AND seq <= ? AND admitted_at IS NOT NULL ORDER BY wait LIMIT 1 OFFSET ?",
        fromServing, toServing, Math.floor((n - 1) / 2),
      )
      .toArray()[0];
    return row ? row.wait : null;
  }

  // Web Push subscriptions (push-notices.ts).

  /** How many tickets have a subscription: counted once, then kept as subscriptions come and go. */
  pushSubscribers(): number {
    return (this.memory.pushSubscribers ??= this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM push_subscriptions").one().n);
  }

  pushSubscription(seq: number): PushRow | undefined {
    return this.sql.exec<PushRow>("SELECT * FROM push_subscriptions WHERE seq = ?", seq).toArray()[0];
  }

  /** The ticket's subscription, new or replacing its last one; the notices already sent stay sent. */
  savePushSubscription(seq: number, ticketId: string, target: { endpoint: string; p256dh: string; auth: string }, lang: string): void {
    const cursor = this.sql.exec(
      `INSERT INTO push_subscriptions (seq, ticket_id, endpoint, p256dh, auth, lang) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (seq) DO UPDATE SET ticket_id = excluded.ticket_id, endpoint = excluded.endpoint, p256dh = excluded.p256dh, auth = excluded.auth, lang = excluded.lang`,
      seq, ticketId, target.endpoint, target.p256dh, target.auth, lang,
    );
    if (cursor.rowsWritten > 0) {
      this.memory.pushSubscribers = null;
      this.memory.noticesLooked = null;
    }
  }

  /** The ticket's subscription is gone: it left the line, its ticket ended, or its push service forgot it. */
  dropPushSubscription(seq: number): void {
    if (this.sql.exec("DELETE FROM push_subscriptions WHERE seq = ?", seq).rowsWritten > 0) this.memory.pushSubscribers = null;
  }

  /** Subscribed tickets in (afterSeq, toSeq] not yet told they are near, nor admitted: the near window. */
  nearNoticesDue(afterSeq: number, toSeq: number): Array<{ seq: number; ticket_id: string }> {
    return this.sql
      .exec<{ seq: number; ticket_id: string }>(
        "SELECT seq, ticket_id FROM push_subscriptions WHERE seq > ? AND seq <= ? AND near_queued_at IS NULL AND admitted_queued_at IS NULL",
        afterSeq, toSeq,
      )
      .toArray();
  }

  /** Subscribed tickets holding an unclaimed admission at `now` that have not been told. */
  admittedNoticesDue(serving: number, now: number): Array<{ seq: number; ticket_id: string }> {
    return this.sql
      .exec<{ seq: number; ticket_id: string }>(
        `SELECT s.seq, s.ticket_id FROM push_subscriptions s JOIN tickets t ON t.seq = s.seq
         WHERE s.seq <= ? AND s.admitted_queued_at IS NULL AND t.ticket_id = s.ticket_id
           AND t.admitted_at IS NOT NULL AND t.claimed_at IS NULL AND t.active_until > ?`,
        serving, now,
      )
      .toArray();
  }

  /** Records a notice as put on the queue (the booking's code with `booked`). */
  markNoticeQueued(seq: number, kind: NoticeKind, now: number, code: string | null = null): void {
    if (kind === "booked") this.sql.exec("UPDATE push_subscriptions SET booked_queued_at = ?, booked_code = ? WHERE seq = ?", now, code, seq);
    else this.sql.exec(`UPDATE push_subscriptions SET ${kind}_queued_at = ? WHERE seq = ?`, now, seq);
  }

  /** The queue would not take these notices: they are due again. */
  unmarkNoticesQueued(notices: readonly DueNotice[]): void {
    for (const { seq, kind } of notices) this.sql.exec(`UPDATE push_subscriptions SET ${kind}_queued_at = NULL WHERE seq = ?`, seq);
    this.memory.noticesLooked = null;
  }

  /** When the push service took the notice (`accepted`) or the service worker showed it (`received`); the first time counts. */
  markNotice(seq: number, kind: "near" | "admitted", step: "accepted" | "received", at: number): void {
    this.sql.exec(`UPDATE push_subscriptions SET ${kind}_${step}_at = COALESCE(${kind}_${step}_at, ?) WHERE seq = ?`, at, seq);
  }

  /**
   * Holds the ticket's unclaimed admission until `until` if it is still held at `now` and would end
   * sooner. The count of people holding capacity stands, and its earliest expiry stays a lower bound.
   */
  holdAdmissionUntil(seq: number, until: number, now: number): void {
    this.sql.exec(
      "UPDATE tickets SET active_until = ? WHERE seq = ? AND admitted_at IS NOT NULL AND claimed_at IS NULL AND active_until > ? AND active_until < ?",
      until, seq, now, until,
    );
  }

  /**
   * Drops the subscriptions of tickets that have ended at `now` and can get no notice: the pass expired, or
   * the admission lapsed or the line passed them over more than `returnWindowMs` ago. A booked notice on
   * its way keeps its subscription until the consumer is done with it, or for the return window at most.
   */
  dropEndedPushSubscriptions(serving: number, now: number, returnWindowMs: number): void {
    const cursor = this.sql.exec(
      `DELETE FROM push_subscriptions WHERE (booked_queued_at IS NULL OR booked_queued_at <= ?) AND seq IN (
         SELECT t.seq FROM tickets t JOIN push_subscriptions s ON s.seq = t.seq WHERE t.seq <= ? AND (
           t.ticket_id <> s.ticket_id
           OR t.pass_exp <= ?
           OR (t.claimed_at IS NULL AND t.admitted_at IS NOT NULL AND t.active_until <= ?)
           OR (t.admitted_at IS NULL AND t.returned_at IS NULL AND t.passed_at <= ?)))`,
      now - returnWindowMs, serving, now, now - returnWindowMs, now - returnWindowMs,
    );
    if (cursor.rowsWritten > 0) this.memory.pushSubscribers = null;
  }
}
