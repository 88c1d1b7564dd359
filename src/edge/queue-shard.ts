import { DurableObject } from "cloudflare:workers";
import { admissionDeadline, advance, passExpiry, shardCap, shardRate, type ShardCounters, type ShardPolicy } from "./admission.js";
import { newTicketId } from "./citizen-key.js";
import { edgeConfig } from "./config.js";
import { observedPace, PACE_MINUTES, type ShardSnapshot } from "./estimate.js";

/**
 * QueueShard: one Durable Object per (cohort, shard). It is the single writer of its line, so sequence
 * numbers are handed out in the order joins reach it, distinct and without gaps. Every critical section
 * below is synchronous SQL with no `await` between read and write: the object's input gate then makes
 * each RPC call atomic, and concurrent joins of one citizen cannot both create a ticket.
 *
 * Its state lives in SQLite, never only in memory, so an eviction or restart keeps every place.
 */

export interface ShardAddress {
  cohort: string;
  shard: number;
}

export interface JoinResult {
  ticketId: string;
  seq: number;
  joinedAt: number;
  /** The citizen's previous place had lapsed unclaimed; this ticket is a new place at the back. */
  replacedExpired: boolean;
  snapshot: ShardSnapshot;
}

/**
 * What a claim found. One object type rather than a union, so it crosses RPC with its type intact:
 * `snapshot` is set when still waiting (the Worker's cache was stale), `pass` when admitted.
 */
export interface ClaimResult {
  state: "waiting" | "admitted" | "expired" | "unknown";
  snapshot?: ShardSnapshot;
  pass?: { iat: number; exp: number };
}

/** The shard brought up to a moment: what every answer of the object is computed from. */
interface Tick {
  counters: ShardCounters;
  active: number;
  policy: ShardPolicy;
  firstAdmittedAt: number | null;
}

type TicketState = "waiting" | "admitted" | "claimed" | "completed" | "expired";

interface TicketRow extends Record<string, SqlStorageValue> {
  seq: number;
  ticket_id: string;
  citizen_key: string;
  joined_at: number;
  admitted_at: number | null;
  claimed_at: number | null;
  pass_exp: number | null;
  completed_at: number | null;
  active_until: number | null;
}

interface CounterRow extends Record<string, SqlStorageValue> {
  cohort: string | null;
  shard: number | null;
  last_seq: number;
  serving: number;
  credit: number;
  credit_at: number;
  first_admitted_at: number | null;
}

/** Schema versions, applied in order; the applied ones are recorded since PRAGMA user_version is not available. */
const MIGRATIONS: string[] = [
  `CREATE TABLE counters (
     id INTEGER PRIMARY KEY CHECK (id = 1),
     cohort TEXT, shard INTEGER,
     last_seq INTEGER NOT NULL, serving INTEGER NOT NULL,
     credit REAL NOT NULL, credit_at INTEGER NOT NULL,
     first_admitted_at INTEGER
   );
   INSERT INTO counters (id, last_seq, serving, credit, credit_at) VALUES (1, 0, 0, 0, 0);
   CREATE TABLE tickets (
     seq INTEGER PRIMARY KEY,
     ticket_id TEXT NOT NULL UNIQUE,
     citizen_key TEXT NOT NULL,
     joined_at INTEGER NOT NULL,
     admitted_at INTEGER, claimed_at INTEGER, pass_exp INTEGER, completed_at INTEGER,
     -- Until when this ticket holds capacity (unclaimed admission or live pass); NULL when it holds none.
     active_until INTEGER
   );
   CREATE INDEX tickets_by_citizen ON tickets (citizen_key, seq);
   CREATE INDEX tickets_holding ON tickets (active_until) WHERE active_until IS NOT NULL;
   -- Admissions per minute, for an honest wait estimate when the cap, not the rate, sets the pace.
   CREATE TABLE admissions_per_minute (minute INTEGER PRIMARY KEY, admitted INTEGER NOT NULL);`,
];

/** While people wait, the line moves on this beat even if nobody asks. */
const TICK_MS = 1_000;

export class QueueShard extends DurableObject<Env> {
  /** The object's clock. Tests replace it to travel in time; the runtime's clock is used otherwise. */
  now: () => number = () => Date.now();
  /** RPC calls received since the object started, by method; the poll tests and benchmarks read it. */
  readonly calls = { join: 0, snapshot: 0, claim: 0, complete: 0 };
  private alarmAt: number | null = null;
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    void ctx.blockConcurrencyWhile(async () => {
      this.migrate();
      this.alarmAt = await ctx.storage.getAlarm();
    });
  }

  private migrate(): void {
    this.sql.exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
    const applied = this.sql.exec<{ v: number | null }>("SELECT MAX(version) AS v FROM schema_migrations").one().v ?? 0;
    for (let version = applied + 1; version <= MIGRATIONS.length; version++) {
      this.ctx.storage.transactionSync(() => {
        this.sql.exec(MIGRATIONS[version - 1]!);
        this.sql.exec("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", version, Date.now());
      });
    }
  }

  /** Joins the line, or returns the citizen's live ticket: joining twice never costs or buys a place. */
  async join(address: ShardAddress, citizenKey: string): Promise<JoinResult> {
    this.calls.join++;
    const now = this.now();
    const result = this.ctx.storage.transactionSync((): JoinResult => {
      const tick = this.tick(address, now);
      const { counters } = tick;
      const latest = this.sql
        .exec<TicketRow>("SELECT * FROM tickets WHERE citizen_key = ? ORDER BY seq DESC LIMIT 1", citizenKey)
        .toArray()[0];
      if (latest && stateOf(latest, counters.serving, now) !== "expired") {
        return { ticketId: latest.ticket_id, seq: latest.seq, joinedAt: latest.joined_at, replacedExpired: false, snapshot: this.snapshotOf(tick, now) };
      }
      const seq = counters.lastSeq + 1;
      const ticketId = newTicketId();
      this.sql.exec("INSERT INTO tickets (seq, ticket_id, citizen_key, joined_at) VALUES (?, ?, ?, ?)", seq, ticketId, citizenKey, now);
      this.sql.exec("UPDATE counters SET last_seq = ? WHERE id = 1", seq);
      const grown = { ...counters, lastSeq: seq };
      return { ticketId, seq, joinedAt: now, replacedExpired: latest !== undefined, snapshot: this.snapshotOf({ ...tick, counters: grown }, now) };
    });
    await this.keepMoving(result.snapshot);
    return result;
  }

  /** The shard's counters as the Worker caches them for answering polls without calling here. */
  async snapshot(address: ShardAddress): Promise<ShardSnapshot> {
    this.calls.snapshot++;
    const now = this.now();
    const snap = this.ctx.storage.transactionSync(() => {
      return this.snapshotOf(this.tick(address, now), now);
    });
    await this.keepMoving(snap);
    return snap;
  }

  /**
   * Claims the pass of an admitted ticket. The first claim fixes the pass's times; every later claim
   * returns the same times, so the Worker re-signs the same pass (same jti) and the citizen never holds
   * a second place.
   */
  async claim(address: ShardAddress, seq: number, ticketId: string): Promise<ClaimResult> {
    this.calls.claim++;
    const now = this.now();
    const { result, snap } = this.ctx.storage.transactionSync((): { result: ClaimResult; snap: ShardSnapshot } => {
      const tick = this.tick(address, now);
      const { counters } = tick;
      const snap = this.snapshotOf(tick, now);
      const row = this.sql.exec<TicketRow>("SELECT * FROM tickets WHERE seq = ?", seq).toArray()[0];
      if (!row || row.ticket_id !== ticketId) return { result: { state: "unknown" } satisfies ClaimResult, snap };
      const state = stateOf(row, counters.serving, now);
      switch (state) {
        case "waiting":
          return { result: { state: "waiting", snapshot: snap } satisfies ClaimResult, snap };
        case "expired":
          return { result: { state: "expired" } satisfies ClaimResult, snap };
        case "claimed":
        case "completed":
          return { result: { state: "admitted", pass: passTimes(row.claimed_at!, row.pass_exp!) } satisfies ClaimResult, snap };
        case "admitted": {
          const config = edgeConfig(this.env);
          const passExp = passExpiry(now, config.passTtlSeconds);
          this.sql.exec("UPDATE tickets SET claimed_at = ?, pass_exp = ?, active_until = ? WHERE seq = ?", now, passExp, passExp, seq);
          return { result: { state: "admitted", pass: passTimes(now, passExp) } satisfies ClaimResult, snap };
        }
      }
    });
    await this.keepMoving(snap);
    return result;
  }

  /** The citizen's booking went through: their pass stops holding capacity, so the next person gets in. */
  async complete(ticketId: string): Promise<{ completed: boolean }> {
    this.calls.complete++;
    const now = this.now();
    const cursor = this.sql.exec(
      "UPDATE tickets SET completed_at = COALESCE(completed_at, ?), active_until = NULL WHERE ticket_id = ? AND claimed_at IS NOT NULL",
      now,
      ticketId,
    );
    return { completed: cursor.rowsWritten > 0 };
  }

  override async alarm(): Promise<void> {
    this.alarmAt = null;
    const counters = this.sql.exec<CounterRow>("SELECT * FROM counters WHERE id = 1").one();
    if (counters.cohort === null || counters.shard === null) return;
    const now = this.now();
    const snap = this.ctx.storage.transactionSync(() => {
      return this.snapshotOf(this.tick({ cohort: counters.cohort!, shard: counters.shard! }, now), now);
    });
    await this.keepMoving(snap);
  }

  /** Brings the shard up to `now`: lets in whoever the admission rule allows. Synchronous by design. */
  private tick(address: ShardAddress, now: number): Tick {
    const row = this.sql.exec<CounterRow>("SELECT * FROM counters WHERE id = 1").one();
    if (row.cohort === null) {
      this.sql.exec("UPDATE counters SET cohort = ?, shard = ? WHERE id = 1", address.cohort, address.shard);
    } else if (row.cohort !== address.cohort || row.shard !== address.shard) {
      // A name maps to one shard forever; a mismatch means a routing bug, not a citizen's mistake.
      throw new Error(`shard ${row.cohort}/${row.shard} was addressed as ${address.cohort}/${address.shard}`);
    }
    const policy = this.policy(address.shard);
    const before: ShardCounters = { lastSeq: row.last_seq, serving: row.serving, credit: row.credit, creditAt: row.credit_at };
    const active = this.activeAt(now);
    const { counters, admitted } = advance(before, active, policy, now);
    if (admitted > 0) {
      const config = edgeConfig(this.env);
      this.sql.exec(
        "UPDATE tickets SET admitted_at = ?, active_until = ? WHERE seq > ? AND seq <= ?",
        now,
        admissionDeadline(now, config.claimWindowSeconds),
        before.serving,
        counters.serving,
      );
      this.sql.exec(
        "INSERT INTO admissions_per_minute (minute, admitted) VALUES (?, ?) ON CONFLICT (minute) DO UPDATE SET admitted = admitted + excluded.admitted",
        Math.floor(now / 60_000),
        admitted,
      );
      this.sql.exec("DELETE FROM admissions_per_minute WHERE minute < ?", Math.floor(now / 60_000) - 2 * PACE_MINUTES);
    }
    this.sql.exec(
      "UPDATE counters SET serving = ?, credit = ?, credit_at = ?, first_admitted_at = COALESCE(first_admitted_at, ?) WHERE id = 1",
      counters.serving,
      counters.credit,
      counters.creditAt,
      admitted > 0 ? now : null,
    );
    return { counters, active: active + admitted, policy, firstAdmittedAt: row.first_admitted_at ?? (admitted > 0 ? now : null) };
  }

  private policy(shard: number): ShardPolicy {
    const config = edgeConfig(this.env);
    return {
      ratePerMinute: shardRate(config.admitPerMinute, config.shards),
      activeCap: shardCap(config.maxActive, config.shards, shard),
      paused: config.paused,
    };
  }

  private activeAt(now: number): number {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM tickets WHERE active_until > ?", now).one().n;
  }

  private snapshotOf({ counters, active, policy, firstAdmittedAt }: Tick, now: number): ShardSnapshot {
    return {
      lastSeq: counters.lastSeq,
      serving: counters.serving,
      active,
      activeCap: policy.activeCap,
      ratePerMinute: policy.ratePerMinute,
      observedPerMinute: this.observedPace(firstAdmittedAt, now),
      paused: policy.paused,
      at: now,
    };
  }

  private observedPace(firstAdmittedAt: number | null, now: number): number | null {
    return observedPace(firstAdmittedAt, now, (from, to) =>
      this.sql.exec<{ n: number | null }>("SELECT SUM(admitted) AS n FROM admissions_per_minute WHERE minute >= ? AND minute < ?", from, to).one().n ?? 0,
    );
  }

  /** While anyone waits, make sure an alarm will move the line even if nobody polls. */
  private async keepMoving(snap: ShardSnapshot): Promise<void> {
    if (snap.lastSeq <= snap.serving || snap.paused) return;
    // Alarms run on the runtime's clock, whatever clock the admission rule is given.
    const now = Date.now();
    if (this.alarmAt !== null && this.alarmAt > now - TICK_MS) return;
    this.alarmAt = now + TICK_MS;
    await this.ctx.storage.setAlarm(this.alarmAt);
  }
}

function stateOf(row: TicketRow, serving: number, now: number): TicketState {
  if (row.seq > serving) return "waiting";
  if (row.completed_at !== null) return row.pass_exp !== null && row.pass_exp > now ? "completed" : "expired";
  if (row.claimed_at !== null) return row.pass_exp !== null && row.pass_exp > now ? "claimed" : "expired";
  if (row.admitted_at !== null && row.active_until !== null && row.active_until > now) return "admitted";
  return "expired";
}

/** Pass times in JWT seconds. `exp` rounds down so the pass never outlives the capacity it holds. */
function passTimes(claimedAt: number, passExp: number): { iat: number; exp: number } {
  return { iat: Math.floor(claimedAt / 1000), exp: Math.floor(passExp / 1000) };
}
