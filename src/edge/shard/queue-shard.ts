import { DurableObject } from "cloudflare:workers";
import { citizenTag } from "../identity/citizen-key.js";
import { newTicketId } from "../tokens/ticket.js";
import { edgeConfig } from "../config.js";
import type { HealthSample } from "../origin-health/autopilot.js";
import { LatencyRing } from "../origin-health/latency-ring.js";
import { cohortSeed, drawValue } from "../prequeue/draw.js";
import type { ShardSnapshot } from "./snapshot.js";
import { parseShardName, type ShardAddress } from "../queue/shard-name.js";
import { shardPolicy, snapshotAt, tick, type Shard } from "./line.js";
import { stepAutopilot, usableSamples } from "./autopilot-feed.js";
import { claimTicket } from "./claim.js";
import { GroupCommit } from "./group-commit.js";
import { HISTORY_MINUTES, shardHistory, type ShardMinute } from "./history.js";
import { writeJoinBatch, type JoinBatch } from "./joins.js";
import { nextAlarm } from "./next-alarm.js";
import { drawPrefixes, type DrawPrefixes } from "../prequeue/draw-prefixes.js";
import { awaitsDraw, holdPrequeueTicket, prequeueSchedule, publishedDraw, type PrequeueSchedule, type ShardDraw } from "./prequeue.js";
import { wellFormedRefs, type ChangeHold, type ClaimResult, type JoinResult, type LeaveResult, type TicketRef } from "./rpc.js";
import { leaveLine, leavePrequeue } from "./leave.js";
import { holdForChange } from "./change-hold.js";
import { ShardStore, type DueNotice } from "./store.js";
import { noticeAccepted, noticeBooked, noticeReceived, noticeTarget, subscribe, subscriptionGone, unsubscribe, type NoticeTarget } from "./push-notices.js";
import { MAX_SEND_BATCH, type NoticeMessage } from "../push/notice-message.js";
import type { NoticeKind, PushLang } from "../../contract/push.js";
import { coordinatorStub } from "../cohort/coordinator.js";
import { buildReport, coordinationOf, leftRanked, type Coordination, REPORT_TIMEOUT_MS, reportDue, saveCoordination, takeReply, unanswered } from "./coordination.js";
import type { CoordinatorReply, RankRun } from "../cohort/cohort-line.js";

/** The edge reads a shard's ranks this many places at a time (src/edge/queue/cohort-ahead.ts). */
export const RANK_CHUNK = 4_096;

/**
 * QueueShard: one Durable Object per (cohort, shard), reached by its name (queue/shard-name.ts). It is the
 * single writer of its line, so places are handed out in the order joins reach it, distinct and without
 * gaps. Every critical section is synchronous SQL in one transaction with no `await` between read and
 * write: the object's input gate then makes each call atomic, and concurrent joins of one citizen cannot
 * both create a ticket. Its state lives in SQLite (store.ts), so an eviction or restart keeps every place.
 *
 * This class is the runtime's surface only: each method opens a critical section, calls the modules of
 * this folder, and sets the next alarm.
 */
export class QueueShard extends DurableObject<Env> {
  private store!: ShardStore;
  private address: ShardAddress | null = null;
  private alarmAt: number | null = null;
  /** The cohort's pre-queue (null: none), looked up on first use: bindings change only with a restart. */
  private schedule: PrequeueSchedule | null | undefined;
  private readonly latencies = new LatencyRing();
  private readonly joins = new GroupCommit<JoinResult, JoinBatch>(
    (keys) => this.writeJoins(keys),
    (batch) => this.scheduleAlarm(batch.snapshot),
  );

  /** The object's clock: the runtime's. A test subclass overrides it to travel in time. */
  protected now(): number {
    return Date.now();
  }

  /** Whether this shard keeps one line with its cohort's others: whenever the cohort has more than one shard. */
  protected coordinates(): boolean {
    return edgeConfig(this.env).shards > 1;
  }

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => {
      this.store = new ShardStore(ctx.storage);
      this.address = this.ownAddress();
      this.alarmAt = await ctx.storage.getAlarm();
    });
  }

  /**
   * Joins the line, or returns the citizen's live ticket: joining twice never costs or buys a place. Before
   * the opening of a cohort with a pre-queue, the join waits without a place for the draw; otherwise it
   * waits for the next group commit, which carries every join that arrived in the meantime.
   */
  join(citizenKey: string): Promise<JoinResult> {
    return this.enter(citizenKey);
  }

  /**
   * `join` as the edge Worker calls it: the same result, as JSON text. A string crosses the RPC as one
   * copy, where an object is cloned into the caller field by field.
   */
  async joinJson(citizenKey: string): Promise<string> {
    return JSON.stringify(await this.join(citizenKey));
  }

  /** The shard's counters as the Worker caches them for answering polls without calling here. */
  async snapshot(): Promise<ShardSnapshot> {
    const now = this.now();
    const snapshot = this.store.atomically(() => snapshotAt(this.shard(), now));
    await this.scheduleAlarm(snapshot);
    return snapshot;
  }

  /** Claims the pass of an admitted ticket (claim.ts). */
  async claim(seq: number, ticketId: string): Promise<ClaimResult> {
    const now = this.now();
    const { result, snapshot } = this.store.atomically(() => claimTicket(this.shard(), seq, ticketId, now));
    await this.scheduleAlarm(snapshot);
    return result;
  }

  /** The citizen gives up their place in the line for good (leave.ts). */
  async leave(seq: number, ticketId: string): Promise<LeaveResult> {
    const now = this.now();
    const { result, snapshot } = this.store.atomically(() => leaveLine(this.shard(), seq, ticketId, now));
    await this.scheduleAlarm(snapshot);
    return result;
  }

  /** The citizen gives up their pre-queue ticket, named by its draw value (leave.ts). */
  leavePrequeue(drawValue: string, ticketId: string): LeaveResult {
    const now = this.now();
    return this.store.atomically(() => leavePrequeue(this.shard(), drawValue, ticketId, now));
  }

  /**
   * The citizen's booking went through: their pass stops holding capacity, so the next person gets in.
   * `samples` are the origin's health as the gate met it for this shard's citizens since it last said, and
   * `used` the passes it forwarded requests for.
   */
  async complete(
    seq: number,
    ticketId: string,
    samples: readonly HealthSample[] = [],
    used: readonly TicketRef[] = [],
    bookingCode: string | null = null,
  ): Promise<{ completed: boolean }> {
    const now = this.now();
    const completed = this.store.atomically(() => {
      this.passesUsed(used, now);
      const done = this.store.completeBooking(seq, ticketId, now);
      // A booking confirmed again (a replay, another tab's) finds the notice already on its way.
      if (done) noticeBooked(this.shard(), seq, ticketId, bookingCode, now);
      this.feedAutopilot(samples, now);
      return done;
    });
    await this.sendNotices();
    // The coordinator hears of the freed room at the next beat.
    if (completed && this.coordinates()) await this.setAlarm(nextAlarm({ setAt: this.alarmAt, now: Date.now(), moving: true, opensAt: null }));
    return { completed };
  }

  /**
   * A change of slot with booking access asks for room (change-hold.ts): held for at most `holdMs`, or
   * refused while the shard is paused or full.
   */
  async holdForChange(citizenKey: string, holdMs: number): Promise<ChangeHold> {
    const now = this.now();
    const { hold, snapshot } = this.store.atomically(() => {
      const hold = holdForChange(this.shard(), citizenKey, now, holdMs);
      return { hold, snapshot: snapshotAt(this.shard(), now) };
    });
    await this.scheduleAlarm(snapshot);
    return hold;
  }

  /** The change is answered: its hold ends, and the line may use the room at once. */
  async releaseChange(ticket: TicketRef, until: number): Promise<void> {
    const [[seq, ticketId] = [0, ""]] = wellFormedRefs([ticket]);
    const now = this.now();
    const snapshot = this.store.atomically(() => {
      this.store.releaseCapacity(seq, ticketId, until);
      return snapshotAt(this.shard(), now);
    });
    await this.scheduleAlarm(snapshot);
  }

  /** What the gate met since it last said, when no completion carried it: the origin's health, and the passes used. */
  async reportHealth(samples: readonly HealthSample[], used: readonly TicketRef[] = []): Promise<{ ratePerMinute: number }> {
    const now = this.now();
    return this.store.atomically(() => {
      this.passesUsed(used, now);
      return { ratePerMinute: this.feedAutopilot(samples, now).ratePerMinute };
    });
  }

  /**
   * The holders of these tickets are here: the Worker saw them poll while near the front (only those, so
   * that a crowd's polls never reach the object). One call carries what an isolate saw in about a second.
   */
  async seen(refs: readonly TicketRef[]): Promise<void> {
    const now = this.now();
    this.store.atomically(() => {
      for (const [seq, ticketId] of wellFormedRefs(refs)) this.store.markSeenIfHeld(seq, ticketId, now);
    });
  }

  /** The page's push subscription for its ticket (push-notices.ts); false when the ticket is not here or has ended. */
  async subscribePush(seq: number, ticketId: string, target: { endpoint: string; p256dh: string; auth: string }, lang: PushLang): Promise<boolean> {
    const now = this.now();
    const { subscribed, snapshot } = this.store.atomically(() => {
      const subscribed = subscribe(this.shard(), seq, ticketId, target, lang);
      // The tick that follows sends what is already due: a ticket near the front hears so at once.
      return { subscribed, snapshot: snapshotAt(this.shard(), now) };
    });
    await this.scheduleAlarm(snapshot);
    return subscribed;
  }

  /** The page's subscription for its ticket is gone (DELETE push-subscription). */
  async unsubscribePush(seq: number, ticketId: string): Promise<void> {
    this.store.atomically(() => unsubscribe(this.shard(), seq, ticketId));
  }

  /** The service worker showed a notice: for an admission, its claim window counts from now. */
  async pushReceived(seq: number, ticketId: string, kind: NoticeKind): Promise<void> {
    const now = this.now();
    this.store.atomically(() => noticeReceived(this.shard(), seq, ticketId, kind, now));
  }

  /** The push consumer's look-up: where to send `kind` for this ticket, or null when nothing is to be sent. */
  async pushTarget(seq: number, ticketId: string, kind: NoticeKind): Promise<NoticeTarget | null> {
    return this.store.atomically(() => noticeTarget(this.shard(), seq, ticketId, kind));
  }

  /** The push service took the notice (201). */
  async pushAccepted(seq: number, ticketId: string, kind: NoticeKind): Promise<void> {
    const now = this.now();
    this.store.atomically(() => noticeAccepted(this.shard(), seq, ticketId, kind, now));
  }

  /** The push service no longer knows the subscription (404, 410). */
  async pushGone(seq: number, ticketId: string): Promise<void> {
    this.store.atomically(() => subscriptionGone(this.shard(), seq, ticketId));
  }

  /**
   * The shard's draw for publication. Brings the shard up to now first, so asking after the opening is
   * itself enough to place the pre-queue.
   */
  async draw(): Promise<ShardDraw> {
    return this.drawNow();
  }

  /** The same draw, each value cut to its first 64 bits: what the Worker keeps for its citizens' status. */
  async drawPrefixes(): Promise<DrawPrefixes> {
    return drawPrefixes(await this.drawNow());
  }

  private async drawNow(): Promise<ShardDraw> {
    const now = this.now();
    const { draw, snapshot } = this.store.atomically(() => {
      const snapshot = snapshotAt(this.shard(), now);
      return { draw: publishedDraw(this.store), snapshot };
    });
    await this.scheduleAlarm(snapshot);
    return draw;
  }

  /**
   * The cohort-wide ranks of this shard's places in the chunk of RANK_CHUNK places that holds `seq`, and how
   * far ranks are known: what the Worker counts people ahead with (src/edge/queue/cohort-ahead.ts).
   */
  ranks(seq: number): { runs: RankRun[]; rankedSeq: number } {
    const from = Math.floor(Math.max(0, seq) / RANK_CHUNK) * RANK_CHUNK;
    return this.store.atomically(() => ({
      runs: this.store.ranksBetween(from, from + RANK_CHUNK - 1),
      rankedSeq: coordinationOf(this.store).rankedSeq,
    }));
  }

  /** The shard's last `minutes` minutes for the operators' console, oldest first (history.ts). */
  history(minutes = HISTORY_MINUTES): ShardMinute[] {
    const now = this.now();
    return this.store.atomically(() => {
      const moved = tick(this.shard(), now);
      return shardHistory(this.store, { ...moved.counters, active: moved.active }, minutes);
    });
  }

  override async alarm(): Promise<void> {
    this.alarmAt = null;
    if (!this.address) return;
    const now = this.now();
    let snapshot = this.store.atomically(() => snapshotAt(this.shard(), now));
    if (this.coordinates()) snapshot = await this.report(snapshot, now);
    await this.scheduleAlarm(snapshot);
  }

  /**
   * Tells the cohort's coordinator what changed (coordination.ts), and keeps its answer: the ranks, the
   * grant and the cap, with which the line moves at once. Never on the path of a join or a poll.
   */
  private async report(snapshot: ShardSnapshot, now: number): Promise<ShardSnapshot> {
    const address = this.address!;
    const report = this.store.atomically(() => {
      const c = coordinationOf(this.store);
      if (!reportDue(c, this.reportFigures(snapshot.active, c))) return null;
      const figures = {
        active: snapshot.active,
        returning: snapshot.returning ?? 0,
        ratePerMinute: snapshot.ratePerMinute,
        configuredPerMinute: snapshot.configuredPerMinute ?? snapshot.ratePerMinute,
        observedPerMinute: snapshot.observedPerMinute,
      };
      const report = buildReport(this.store, c, address.shard, figures, now);
      saveCoordination(this.store, { ...c, cap: report.cap });
      return report;
    });
    if (!report) return snapshot;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const reply = await Promise.race([
        // The coordinator's own reply: RPC types lose the tuples' lengths, not their contents.
        coordinatorStub(this.env, address.cohort).report(report).then((r) => r as unknown as CoordinatorReply),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer in ${REPORT_TIMEOUT_MS} ms`)), REPORT_TIMEOUT_MS);
        }),
      ]);
      const at = this.now();
      return this.store.atomically(() => {
        saveCoordination(this.store, { ...takeReply(this.store, coordinationOf(this.store), reply, report.active, at), leftReported: report.left?.total ?? 0 });
        return snapshotAt(this.shard(), at);
      });
    } catch (err) {
      const c = this.store.atomically(() => {
        const c = unanswered(coordinationOf(this.store), now);
        saveCoordination(this.store, c);
        return c;
      });
      // Once per spell: the shard goes on, alone after COORDINATOR_STALE_MS (coordination.ts).
      if (c.askingSince === now) console.error(`shard ${address.cohort}/${address.shard} could not reach the cohort's coordinator:`, err);
      return snapshot;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Writes one batch of joins in one transaction (joins.ts); the group commit calls it once per batch. */
  protected writeJoins(citizenKeys: readonly string[]): JoinBatch {
    const now = this.now();
    return this.store.atomically(() => writeJoinBatch(this.shard(), citizenKeys, now));
  }

  private enter(citizenKey: string): Promise<JoinResult> {
    if (awaitsDraw(this.store, this.prequeue(), this.now())) return this.joinPrequeue(citizenKey);
    return this.joins.add(citizenKey);
  }

  /**
   * A join before the opening: the citizen's pre-queue ticket, or a new one with its draw value. The value
   * is computed before the critical section (WebCrypto is asynchronous); the section then looks and writes
   * with no await between, as every other one does.
   */
  private async joinPrequeue(citizenKey: string): Promise<JoinResult> {
    const { cohort, opensAt } = this.prequeue()!;
    const ticketId = newTicketId();
    const value = await drawValue(await cohortSeed(edgeConfig(this.env).drawSecret, cohort), ticketId);
    const now = this.now();
    // The opening came while the value was computed: this join is one of the first after it.
    if (!awaitsDraw(this.store, this.prequeue(), now)) return this.enter(citizenKey);
    const { ticket, snapshot } = this.store.atomically(() => {
      const snapshot = snapshotAt(this.shard(), now);
      return { ticket: holdPrequeueTicket(this.store, { tag: citizenTag(citizenKey), citizenKey, ticketId, drawValue: value }, now), snapshot };
    });
    await this.setAlarm(nextAlarm({ setAt: this.alarmAt, now: Date.now(), moving: false, opensAt }));
    return { ...ticket, seq: 0, replacedExpired: false, prequeue: true, snapshot };
  }

  /** Passes used through the gate: each holds capacity until PASS_IDLE_SECONDS from now (never past its expiry). */
  private passesUsed(refs: readonly TicketRef[], now: number): void {
    if (refs.length === 0) return;
    const until = now + edgeConfig(this.env).passIdleSeconds * 1000;
    for (const [seq, ticketId] of wellFormedRefs(refs)) this.store.passUsed(seq, ticketId, until, now);
  }

  /** Feeds reported samples to the autopilot, at the configured rate as its ceiling. */
  private feedAutopilot(samples: readonly HealthSample[], now: number) {
    const usable = usableSamples(samples);
    this.latencies.add(usable);
    const shard = this.shard();
    return stepAutopilot(this.store, shard.config, now, usable, shardPolicy(shard.config, shard.address).ratePerMinute);
  }

  /**
   * Puts on the push queue the notices that committed transactions decided (push-notices.ts). If the
   * queue refuses them, they are marked due again, and the next tick decides them afresh.
   */
  private async sendNotices(): Promise<void> {
    const outbox = this.store.outbox;
    if (outbox.length === 0 || !this.address) return;
    const due = outbox.splice(0);
    const { cohort, shard } = this.address;
    try {
      for (let i = 0; i < due.length; i += MAX_SEND_BATCH) {
        await this.enqueue(due.slice(i, i + MAX_SEND_BATCH).map((n) => ({ cohort, shard, ...n })));
      }
    } catch (err) {
      console.error(`shard ${cohort}/${shard} could not queue ${due.length} push notices:`, err);
      this.store.atomically(() => this.store.unmarkNoticesQueued(due satisfies DueNotice[]));
    }
  }

  /** Puts messages on the push queue. */
  protected async enqueue(messages: NoticeMessage[]): Promise<void> {
    await this.env.PUSH_QUEUE.sendBatch(messages.map((body) => ({ body, contentType: "json" as const })));
  }

  /** While anyone waits, make sure an alarm will move the line even if nobody polls (next-alarm.ts). */
  private async scheduleAlarm(snapshot: ShardSnapshot): Promise<void> {
    await this.sendNotices();
    // A coordinated shard also beats while it has something to report, or people holding capacity whose
    // expiry it must notice and report.
    const reporting = this.coordinates() && (snapshot.active > 0 || this.reportIsDue(snapshot.active));
    const moving = ((snapshot.lastSeq > snapshot.serving || Boolean(snapshot.returning)) && !snapshot.paused) || reporting;
    await this.setAlarm(nextAlarm({ setAt: this.alarmAt, now: Date.now(), moving, opensAt: null }));
  }

  /** What reportDue weighs: the shard's places, its returners waiting, its active count and its ranked places given up. */
  private reportFigures(active: number, c: Coordination): { lastSeq: number; serving: number; returnersWaiting: number; active: number; leftRanked: number } {
    const { last_seq: lastSeq, serving } = this.store.counters;
    const left = leftRanked(this.store.leftUnreached(), c.rankedSeq);
    return { lastSeq, serving, returnersWaiting: this.store.memory.returnersWaiting ?? 0, active, leftRanked: left };
  }

  private reportIsDue(active: number): boolean {
    const c = coordinationOf(this.store);
    return reportDue(c, this.reportFigures(active, c));
  }

  private async setAlarm(at: number | null): Promise<void> {
    if (at === null) return;
    this.alarmAt = at;
    await this.ctx.storage.setAlarm(at);
  }

  private shard(): Shard {
    if (!this.address) throw new Error("a QueueShard must be reached by its name, <cohort>/<shard>");
    return { store: this.store, config: edgeConfig(this.env), address: this.address, prequeue: this.prequeue(), latencies: this.latencies, coordinates: this.coordinates() };
  }

  private prequeue(): PrequeueSchedule | null {
    if (this.schedule === undefined) this.schedule = this.address ? prequeueSchedule(edgeConfig(this.env), this.address.cohort) : null;
    return this.schedule;
  }

  /**
   * Which shard this object is: its own name. Recorded in the counters row the first time, because an object
   * woken by its alarm may not be told its name; a name that disagrees with the record is a routing bug, and
   * the object refuses to serve rather than mix two lines.
   */
  private ownAddress(): ShardAddress | null {
    const named = parseShardName(this.ctx.id.name);
    const { cohort, shard } = this.store.counters;
    const recorded = cohort !== null && shard !== null ? { cohort, shard } : null;
    if (named && recorded && (named.cohort !== recorded.cohort || named.shard !== recorded.shard)) {
      throw new Error(`shard ${recorded.cohort}/${recorded.shard} was reached as ${named.cohort}/${named.shard}`);
    }
    if (named && !recorded) this.store.recordAddress(named.cohort, named.shard);
    return named ?? recorded;
  }
}
