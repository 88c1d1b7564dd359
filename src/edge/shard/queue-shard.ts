import { DurableObject } from "cloudflare:workers";
import { admissionDeadline, advance, passExpiry, shardCap, shardRate, type LineView, type ShardCounters, type ShardPolicy } from "./admission.js";
import { autopilotStep, initialAutopilot, ORIGIN_OUTCOMES, readAutopilotState, shardAutopilotConfig, type AutopilotState, type HealthSample } from "../origin-health/autopilot.js";
import { citizenTag, newTicketId } from "../identity/citizen-key.js";
import { cohortPolicy, edgeConfig } from "../config.js";
import { cohortSeed, drawValue } from "../prequeue/draw.js";
import { observedPace, PACE_MINUTES, shardSnapshot, type ShardSnapshot } from "../queue/estimate.js";
import { LatencyRing, MAX_PENDING_PER_SHARD } from "../origin-health/origin-health.js";
import { parseShardName, type ShardAddress } from "../queue/shard-name.js";

/**
 * QueueShard: one Durable Object per (cohort, shard). It is the single writer of its line, so sequence
 * numbers are handed out in the order joins reach it, distinct and without gaps. Every critical section
 * below is synchronous SQL with no `await` between read and write: the object's input gate then makes
 * each RPC call atomic, and concurrent joins of one citizen cannot both create a ticket.
 *
 * Its state lives in SQLite, never only in memory, so an eviction or restart keeps every place. The
 * counters are also held in memory and written through, so a join reads nothing but its citizen's row.
 *
 * Joins are group-committed: the joins that reach the object in one turn of its event loop are written in
 * one SQLite transaction (one commit, one fsync) on the next turn, in arrival order. Each join's answer
 * still waits for its write: the runtime's output gate holds every reply until the commit is durable.
 */

export interface JoinResult {
  ticketId: string;
  /** The place in the line; 0 for a pre-queue ticket, which the draw places at the opening. */
  seq: number;
  joinedAt: number;
  /** The citizen's previous place had lapsed unclaimed; this ticket is a new place at the back. */
  replacedExpired: boolean;
  /** Set for a ticket in the pre-queue: it has no place (seq) until the draw at the opening. */
  prequeue?: true;
  snapshot: ShardSnapshot;
}

/**
 * A shard's pre-queue draw as the Worker publishes it: before the placement only that it has not
 * happened; after it, the draw values in place order (ascending) and the place of the first.
 */
export interface ShardDraw {
  placedAt: number | null;
  firstSeq: number;
  values: string[];
}

/**
 * What a claim found. One object type rather than a union, so it crosses RPC with its type intact:
 * `snapshot` is set when still waiting (the Worker's cache was stale), `pass` when admitted.
 */
export interface ClaimResult {
  state: "waiting" | "returning" | "admitted" | "expired" | "unknown";
  snapshot?: ShardSnapshot;
  pass?: { iat: number; exp: number };
  /** For a citizen who came back after their turn passed: how many who came back before them still wait. */
  returnedAhead?: number;
  /** …and whether they had been away (heard from, then silent), not only unheard when the line reached them. */
  wasAway?: boolean;
}

/** A ticket as the Worker names it to its shard: its place and its id (which proves the place is its own). */
export type TicketRef = readonly [seq: number, ticketId: string];

/** The most ticket references one presence or activity report carries; more are the sender's to drop. */
export const MAX_REFS_PER_REPORT = 1_024;

/** The shard brought up to a moment: what every answer of the object is computed from. */
interface Tick {
  counters: ShardCounters;
  active: number;
  /** The policy admitted by: the configured one, at the autopilot's rate. */
  policy: ShardPolicy;
  /** The configured rate, the autopilot's ceiling. */
  configuredPerMinute: number;
  firstAdmittedAt: number | null;
  /** Citizens who came back and wait for the next free capacity. */
  returning: number;
}

/**
 * `away`: the line reached the ticket while its holder was away (or the admission lapsed unclaimed), less
 * than the return window ago; `returning`: its holder came back and is next at the first free capacity.
 */
type TicketState = "waiting" | "away" | "returning" | "admitted" | "claimed" | "completed" | "expired";

interface TicketRow extends Record<string, SqlStorageValue> {
  seq: number;
  ticket_id: string;
  joined_at: number;
  admitted_at: number | null;
  claimed_at: number | null;
  pass_exp: number | null;
  completed_at: number | null;
  active_until: number | null;
  /** When its holder was last seen (a join, a poll near the front, a claim); null: when it joined. */
  seen_at: number | null;
  /** When the line passed over it, its holder away; null if it never did. */
  passed_at: number | null;
  /** When its holder came back after being passed over or letting the admission lapse; null if not waiting so. */
  returned_at: number | null;
  /**
   * 1 when the one who came back had been heard from and then went silent (or let an admission lapse): they
   * were away. 0 when the line reached them before anything was heard after their join: a citizen far back
   * whose polls stay at the edge, reached early because the line passed over a block of silent tickets.
   */
  away_known: number | null;
}

interface CounterRow extends Record<string, SqlStorageValue> {
  cohort: string | null;
  shard: number | null;
  last_seq: number;
  serving: number;
  credit: number;
  credit_at: number;
  first_admitted_at: number | null;
  /** When the pre-queue was placed in the line (null before, or in a cohort without a pre-queue). */
  prequeue_placed_at: number | null;
  prequeue_first_seq: number | null;
  /** The autopilot's state as JSON (src/edge/origin-health/autopilot.ts); null until the first tick writes it. */
  autopilot: string | null;
  /** Everyone ever admitted (returned citizens again each time), and every pass-over: the ops history's counts. */
  admitted_total: number;
  passed_total: number;
}

/** Schema versions, applied in order; the applied ones are recorded since PRAGMA user_version is not available. */
const MIGRATIONS: Array<(sql: SqlStorage) => void> = [
  (sql) =>
    sql.exec(`CREATE TABLE counters (
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
     active_until INTEGER
   );
   CREATE INDEX tickets_by_citizen ON tickets (citizen_key, seq);
   CREATE INDEX tickets_holding ON tickets (active_until) WHERE active_until IS NOT NULL;
   CREATE TABLE admissions_per_minute (minute INTEGER PRIMARY KEY, admitted INTEGER NOT NULL);`),
  // v2: indexes that earn their cost. The citizen lookup goes through a 48-bit integer tag instead of a
  // 43-character text index, and the ticket id loses its unique index (a pass names its seq, and ids are
  // 128 random bits). SQLite cannot drop a UNIQUE constraint, so the table is rebuilt; the tag is computed
  // here, in code, for rows written before.
  (sql) => {
    sql.exec(`CREATE TABLE tickets_v2 (
       seq INTEGER PRIMARY KEY,
       ticket_id TEXT NOT NULL,
       citizen_tag INTEGER NOT NULL,
       citizen_key TEXT NOT NULL,
       joined_at INTEGER NOT NULL,
       admitted_at INTEGER, claimed_at INTEGER, pass_exp INTEGER, completed_at INTEGER,
       -- Until when this ticket holds capacity (unclaimed admission or live pass); NULL when it holds none.
       active_until INTEGER
     )`);
    for (const row of sql.exec<TicketRow & { citizen_key: string }>("SELECT * FROM tickets ORDER BY seq")) {
      sql.exec(
        "INSERT INTO tickets_v2 (seq, ticket_id, citizen_tag, citizen_key, joined_at, admitted_at, claimed_at, pass_exp, completed_at, active_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        row.seq, row.ticket_id, citizenTag(row.citizen_key), row.citizen_key, row.joined_at, row.admitted_at, row.claimed_at, row.pass_exp, row.completed_at, row.active_until,
      );
    }
    sql.exec(`DROP TABLE tickets;
      ALTER TABLE tickets_v2 RENAME TO tickets;
      CREATE INDEX tickets_by_citizen_tag ON tickets (citizen_tag);
      CREATE INDEX tickets_holding ON tickets (active_until) WHERE active_until IS NOT NULL;`);
  },
  // v3: the citizen lookup moves to memory (CitizenIndex below). Citizen keys are random, so every join
  // wrote into a random leaf of this index: one 4 KB page of write-ahead log per join for a 184-byte
  // ticket, fsynced, and checkpointed into the database every few seconds of a surge, stalling the
  // object each time. Without it a batch of joins appends to the table's last page or two.
  (sql) => sql.exec("DROP INDEX tickets_by_citizen_tag"),
  // v4: the pre-queue. Its tickets wait here, without a place, keyed by draw value (so the table is kept
  // in draw order); at the opening one transaction copies them into \`tickets\` as places first..first+k-1.
  // The rows stay: they are the record the published draw is read from.
  (sql) =>
    sql.exec(`ALTER TABLE counters ADD COLUMN prequeue_placed_at INTEGER;
      ALTER TABLE counters ADD COLUMN prequeue_first_seq INTEGER;
      CREATE TABLE prequeue (
        draw_value TEXT PRIMARY KEY,
        ticket_id TEXT NOT NULL,
        citizen_tag INTEGER NOT NULL,
        citizen_key TEXT NOT NULL,
        joined_at INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX prequeue_by_citizen_tag ON prequeue (citizen_tag);`),
  // v5: the operators' per-minute history (see recordMinute): one row per minute in which anything
  // happened, counters at the minute's end, kept HISTORY_MINUTES.
  (sql) =>
    sql.exec(`CREATE TABLE ops_minutes (
       minute INTEGER PRIMARY KEY,
       joined INTEGER NOT NULL, admitted INTEGER NOT NULL,
       last_seq INTEGER NOT NULL, serving INTEGER NOT NULL,
       active_end INTEGER NOT NULL, active_max INTEGER NOT NULL,
       median_wait_ms INTEGER
     )`),
  // v6: the autopilot. Its state is a handful of numbers read and written whole, with the counters, so one
  // JSON column rather than a table; it survives a restart, so an evicted shard keeps its backed-off rate.
  (sql) => sql.exec("ALTER TABLE counters ADD COLUMN autopilot TEXT"),
  // v7: presence. The line passes over a ticket whose holder is away (seen_at), and one who comes back in
  // time is admitted first (returned_at; the partial index finds the few who wait so). Since the line no
  // longer admits every ticket it reaches, admissions and pass-overs are counted on their own.
  (sql) =>
    sql.exec(`ALTER TABLE tickets ADD COLUMN seen_at INTEGER;
      ALTER TABLE tickets ADD COLUMN passed_at INTEGER;
      ALTER TABLE tickets ADD COLUMN returned_at INTEGER;
      ALTER TABLE tickets ADD COLUMN away_known INTEGER;
      CREATE INDEX tickets_returning ON tickets (returned_at, seq) WHERE returned_at IS NOT NULL AND admitted_at IS NULL;
      ALTER TABLE counters ADD COLUMN admitted_total INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE counters ADD COLUMN passed_total INTEGER NOT NULL DEFAULT 0;
      UPDATE counters SET admitted_total = serving;
      ALTER TABLE admissions_per_minute ADD COLUMN passed INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE ops_minutes ADD COLUMN admitted_total INTEGER;`),
];

/** How long a shard keeps its per-minute history for the operators' console: two hours. */
export const HISTORY_MINUTES = 120;

/** One minute of a shard, as the operators' console charts it. */
export interface ShardMinute {
  /** The minute's start, in minutes since the epoch. */
  minute: number;
  /** Tickets handed out in the minute (new places, re-joins after a lapsed place included). */
  joined: number;
  admitted: number;
  /** People waiting at the minute's end (for the current minute: now). */
  waiting: number;
  /** People holding capacity at the minute's end, and the most seen during it. */
  active: number;
  activeMax: number;
  /** The median wait (admission minus join) of the people admitted in the minute; null when none were. */
  medianWaitMs: number | null;
}

/** The minute being counted: the counters as it began, and the active count seen during it. */
interface MinuteMark {
  minute: number;
  lastSeq: number;
  serving: number;
  admittedTotal: number;
  active: number;
  activeMax: number;
}

interface MinuteRow extends Record<string, SqlStorageValue> {
  minute: number;
  joined: number;
  admitted: number;
  last_seq: number;
  serving: number;
  active_end: number;
  active_max: number;
  median_wait_ms: number | null;
  /** The counters' admitted_total at the minute's end; null in rows written before pass-overs existed. */
  admitted_total: number | null;
}

/** While people wait, the line moves on this beat even if nobody asks. */
const TICK_MS = 1_000;

/** A join waiting for the next group commit. */
interface PendingJoin {
  citizenKey: string;
  resolve: (result: JoinResult) => void;
  reject: (err: unknown) => void;
}

/**
 * How many people hold capacity, kept in memory between counts: the count and the earliest moment one of
 * them can stop holding it (a lower bound). Until then the count cannot fall, so no call needs to count.
 */
interface Holding {
  count: number;
  earliestExpiry: number;
  countedAt: number;
}

export class QueueShard extends DurableObject<Env> {
  /** The object's clock. Tests replace it to travel in time; the runtime's clock is used otherwise. */
  now: () => number = () => Date.now();
  /** RPC calls received since the object started, by method; the poll tests and benchmarks read it. */
  readonly calls = { join: 0, snapshot: 0, claim: 0, complete: 0, draw: 0, reportHealth: 0, seen: 0 };
  /** Group commits made since the object started, and the joins they carried; the tests read it. */
  readonly commits = { batches: 0, joins: 0 };
  private alarmAt: number | null = null;
  private readonly sql: SqlStorage;
  private address: ShardAddress | null = null;
  /** The counters row, as last written: read once at start, then written through. */
  private row!: CounterRow;
  private holding: Holding | null = null;
  private pending: PendingJoin[] = [];
  /** Citizen tag → seq of their tickets, read from SQLite at the first join; null until then. */
  private citizens: CitizenIndex | null = null;
  private flushScheduled = false;
  /** The observed pace, computed once per minute: it counts whole past minutes only. */
  private pace: { minute: number; perMinute: number | null } | null = null;
  private prunedMinute = 0;
  /** The cohort's pre-queue schedule (null: none), looked up on first use; see prequeueSchedule. */
  private schedule: { cohort: string; opensAt: number } | null | undefined;
  /** The minute the operators' history is counting; null until the first tick after a start. */
  private minuteMark: MinuteMark | null = null;
  /** The autopilot's state, as last written to the counters row; read from it on first use. */
  private pilot: AutopilotState | null = null;
  /** How many who came back wait for capacity; null until counted (a join's tick then reads nothing when 0). */
  private returnersWaiting: number | null = null;
  /** Latencies the gate reported lately, for the ops view's p95 only (memory: an eviction forgets them). */
  private readonly latencies = new LatencyRing();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    void ctx.blockConcurrencyWhile(async () => {
      this.migrate();
      this.row = this.sql.exec<CounterRow>("SELECT * FROM counters WHERE id = 1").one();
      this.address = this.ownAddress();
      this.alarmAt = await ctx.storage.getAlarm();
    });
  }

  /**
   * Which shard this object is: its own name, `<cohort>/<shard>` (the Worker reaches it by name). Recorded
   * in the counters row the first time, because an object woken by its alarm may not be told its name; a
   * name that disagrees with the record is a routing bug, and the object refuses to serve rather than mix
   * two lines.
   */
  private ownAddress(): ShardAddress | null {
    const named = parseShardName(this.ctx.id.name);
    const { cohort, shard } = this.row;
    const recorded = cohort !== null && shard !== null ? { cohort, shard } : null;
    if (named && recorded && (named.cohort !== recorded.cohort || named.shard !== recorded.shard)) {
      throw new Error(`shard ${recorded.cohort}/${recorded.shard} was reached as ${named.cohort}/${named.shard}`);
    }
    if (named && !recorded) {
      this.sql.exec("UPDATE counters SET cohort = ?, shard = ? WHERE id = 1", named.cohort, named.shard);
      this.row = { ...this.row, cohort: named.cohort, shard: named.shard };
    }
    return named ?? recorded;
  }

  /**
   * The shard's address; an object reached without a name (not by `shardStub`) has none to serve. A method,
   * not a getter named `self`: workerd 1.20260426 reads `self` on the object when it is called over RPC.
   */
  private shardAddress(): ShardAddress {
    if (!this.address) throw new Error("a QueueShard must be reached by its name, <cohort>/<shard>");
    return this.address;
  }

  private migrate(): void {
    this.sql.exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
    const applied = this.sql.exec<{ v: number | null }>("SELECT MAX(version) AS v FROM schema_migrations").one().v ?? 0;
    for (let version = applied + 1; version <= MIGRATIONS.length; version++) {
      this.ctx.storage.transactionSync(() => {
        MIGRATIONS[version - 1]!(this.sql);
        this.sql.exec("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", version, Date.now());
      });
    }
  }

  /**
   * Joins the line, or returns the citizen's live ticket: joining twice never costs or buys a place. The
   * join waits for the next group commit, which carries every join that arrived in the meantime.
   */
  join(citizenKey: string): Promise<JoinResult> {
    this.calls.join++;
    // Before the opening of a cohort with a pre-queue, a join waits without a place for the draw.
    if (this.awaitsDraw(this.now())) return this.joinPrequeue(citizenKey);
    return new Promise<JoinResult>((resolve, reject) => {
      this.pending.push({ citizenKey, resolve, reject });
      if (this.flushScheduled) return;
      this.flushScheduled = true;
      // The next turn of the event loop, not a microtask: joins already delivered to the object in this
      // turn join the batch, and the input gate lets no other event in between a batch's read and write.
      setTimeout(() => void this.flush(), 0);
    });
  }

  /**
   * `join` as the edge Worker calls it: the same result, as JSON text. A string crosses the RPC as one
   * copy, where an object is cloned into the caller field by field; for a join's result that cost about
   * 8 µs more per join (bench/dissect.ts, pieces `shard-join` and `shard-join-json`).
   */
  async joinJson(citizenKey: string): Promise<string> {
    return JSON.stringify(await this.join(citizenKey));
  }

  /**
   * Runs a critical section in one SQLite transaction. Memory follows the database: if the transaction
   * rolls back, the counters are read again, so what the object remembers is never ahead of what it wrote.
   */
  private atomically<T>(section: () => T): T {
    try {
      return this.ctx.storage.transactionSync(section);
    } catch (err) {
      this.row = this.sql.exec<CounterRow>("SELECT * FROM counters WHERE id = 1").one();
      this.holding = null;
      this.pace = null;
      this.pilot = null;
      // The index may hold tickets the rolled-back transaction wrote: read it again at the next join.
      this.citizens = null;
      this.minuteMark = null;
      this.returnersWaiting = null;
      throw err;
    }
  }

  /** Writes every pending join in one transaction, in arrival order; one bad join fails alone. */
  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    this.flushScheduled = false;
    if (batch.length === 0) return;
    const now = this.now();
    type Settled = { join: PendingJoin; result?: Omit<JoinResult, "snapshot">; error?: unknown };
    let settled: Settled[];
    let snap: ShardSnapshot;
    try {
      ({ settled, snap } = this.atomically(() => {
        const tick = this.tick(now);
        // After the tick, which may have placed the pre-queue in the line.
        const citizens = (this.citizens ??= CitizenIndex.read(this.sql));
        const results: Settled[] = [];
        let lastSeq = this.row.last_seq;
        for (const join of batch) {
          try {
            const result = this.joinOne(citizens, join.citizenKey, lastSeq, now);
            // A new ticket is the next number; a citizen's live ticket is an earlier one.
            lastSeq = Math.max(lastSeq, result.seq);
            results.push({ join, result });
          } catch (error) {
            results.push({ join, error });
          }
        }
        if (lastSeq !== this.row.last_seq) this.sql.exec("UPDATE counters SET last_seq = ? WHERE id = 1", lastSeq);
        return { settled: results, snap: this.snapshotOf({ ...tick, counters: { ...tick.counters, lastSeq } }, now) };
      }));
    } catch (err) {
      // The commit itself failed: nothing of the batch was written, and every join in it is told so.
      for (const join of batch) join.reject(err);
      return;
    }
    // Only now, with the transaction committed to SQLite, does memory follow it.
    this.row = { ...this.row, last_seq: snap.lastSeq };
    this.commits.batches++;
    this.commits.joins += batch.length;
    for (const { join, result, error } of settled) {
      if (result) join.resolve({ ...result, snapshot: snap });
      else join.reject(error);
    }
    await this.keepMoving(snap);
  }

  /** One join inside a batch: the citizen's live ticket, or a new one at the back of the line. */
  private joinOne(citizens: CitizenIndex, citizenKey: string, lastSeq: number, now: number): Omit<JoinResult, "snapshot"> {
    const tag = citizenTag(citizenKey);
    const latest = citizens.latest(tag, (seq) => {
      const row = this.sql.exec<TicketRow & { citizen_key: string }>("SELECT * FROM tickets WHERE seq = ?", seq).one();
      return row.citizen_key === citizenKey ? row : undefined;
    });
    const state = latest ? stateOf(latest, this.row.serving, now, this.returnWindowMs()) : "expired";
    if (latest && state !== "expired") {
      // Joining again is being here: a place the line passed over is taken up again, as next.
      if (state === "away") this.comeBack(latest, now);
      else this.sql.exec("UPDATE tickets SET seen_at = ? WHERE seq = ?", now, latest.seq);
      return { ticketId: latest.ticket_id, seq: latest.seq, joinedAt: latest.joined_at, replacedExpired: false };
    }
    const seq = lastSeq + 1;
    const ticketId = newTicketId();
    this.sql.exec("INSERT INTO tickets (seq, ticket_id, citizen_tag, citizen_key, joined_at, seen_at) VALUES (?, ?, ?, ?, ?, ?)", seq, ticketId, tag, citizenKey, now, now);
    // Only once the row is written, so a join that failed leaves no trace in the index either.
    citizens.add(tag, seq);
    return { ticketId, seq, joinedAt: now, replacedExpired: latest !== undefined };
  }

  /** The shard's counters as the Worker caches them for answering polls without calling here. */
  async snapshot(): Promise<ShardSnapshot> {
    this.calls.snapshot++;
    const now = this.now();
    const snap = this.atomically(() => this.snapshotOf(this.tick(now), now));
    await this.keepMoving(snap);
    return snap;
  }

  /**
   * Claims the pass of an admitted ticket. The first claim fixes the pass's times; every later claim
   * returns the same times, so the Worker re-signs the same pass (same jti) and the citizen never holds
   * a second place.
   */
  async claim(seq: number, ticketId: string): Promise<ClaimResult> {
    this.calls.claim++;
    const now = this.now();
    const { result, snap } = this.atomically((): { result: ClaimResult; snap: ShardSnapshot } => {
      const before = this.sql.exec<TicketRow>("SELECT * FROM tickets WHERE seq = ?", seq).toArray()[0];
      // Asking is being here: seen before the tick, so the line does not pass over the one who asks.
      this.sql.exec("UPDATE tickets SET seen_at = ? WHERE seq = ? AND ticket_id = ?", now, seq, ticketId);
      let tick = this.tick(now);
      let row = this.sql.exec<TicketRow>("SELECT * FROM tickets WHERE seq = ?", seq).toArray()[0];
      if (!row || !before || row.ticket_id !== ticketId) return { result: { state: "unknown" } satisfies ClaimResult, snap: this.snapshotOf(tick, now) };
      if (stateOf(row, tick.counters.serving, now, this.returnWindowMs()) === "away") {
        // Back within the return window: next at the first free capacity, which may be free now.
        this.comeBack(before, now);
        tick = this.tick(now);
        row = this.sql.exec<TicketRow>("SELECT * FROM tickets WHERE seq = ?", seq).one();
      }
      const snap = this.snapshotOf(tick, now);
      switch (stateOf(row, tick.counters.serving, now, this.returnWindowMs())) {
        case "waiting":
          return { result: { state: "waiting", snapshot: snap } satisfies ClaimResult, snap };
        case "returning": {
          const { n } = this.sql
            .exec<{ n: number }>("SELECT COUNT(*) AS n FROM tickets WHERE returned_at IS NOT NULL AND admitted_at IS NULL AND (returned_at < ? OR (returned_at = ? AND seq < ?))", row.returned_at, row.returned_at, seq)
            .one();
          return { result: { state: "returning", snapshot: snap, returnedAhead: n, wasAway: row.away_known !== 0 } satisfies ClaimResult, snap };
        }
        case "away":
        case "expired":
          return { result: { state: "expired" } satisfies ClaimResult, snap };
        case "claimed":
        case "completed":
          return { result: { state: "admitted", pass: passTimes(row.claimed_at!, row.pass_exp!) } satisfies ClaimResult, snap };
        case "admitted": {
          const config = edgeConfig(this.env);
          const passExp = passExpiry(now, config.passTtlSeconds);
          // Still one person holding capacity, only for longer: the count stands, and the earliest expiry
          // stays a lower bound. The pass holds it while used: until PASS_IDLE_SECONDS without a request.
          const holdUntil = Math.min(passExp, now + config.passIdleSeconds * 1000);
          this.sql.exec("UPDATE tickets SET claimed_at = ?, pass_exp = ?, active_until = ? WHERE seq = ?", now, passExp, holdUntil, seq);
          return { result: { state: "admitted", pass: passTimes(now, passExp) } satisfies ClaimResult, snap };
        }
      }
    });
    await this.keepMoving(snap);
    return result;
  }

  /**
   * The citizen's booking went through: their pass stops holding capacity, so the next person gets in.
   * `samples` are the origin's health as the gate met it for this shard's citizens since it last said.
   */
  async complete(seq: number, ticketId: string, samples: readonly HealthSample[] = [], used: readonly TicketRef[] = []): Promise<{ completed: boolean }> {
    this.calls.complete++;
    const now = this.now();
    const completed = this.atomically(() => {
      this.passesUsed(used, now);
      const cursor = this.sql.exec(
        "UPDATE tickets SET completed_at = COALESCE(completed_at, ?), active_until = NULL WHERE seq = ? AND ticket_id = ? AND claimed_at IS NOT NULL",
        now,
        seq,
        ticketId,
      );
      this.hear(samples, now);
      return cursor.rowsWritten > 0;
    });
    // Someone may have stopped holding capacity: count again at the next tick.
    if (completed) this.holding = null;
    return { completed };
  }

  /**
   * What the gate met since it last said, when no completion carried it: the origin's health for this
   * shard's citizens, and the passes used (each then holds capacity PASS_IDLE_SECONDS longer).
   */
  async reportHealth(samples: readonly HealthSample[], used: readonly TicketRef[] = []): Promise<{ ratePerMinute: number }> {
    this.calls.reportHealth++;
    const now = this.now();
    return this.atomically(() => {
      this.passesUsed(used, now);
      return { ratePerMinute: this.hear(samples, now).ratePerMinute };
    });
  }

  /**
   * The holders of these tickets are here: the Worker saw them poll while near the front (only those, so
   * that a crowd's polls never reach the object). One call carries what an isolate saw in about a second.
   */
  async seen(refs: readonly TicketRef[]): Promise<void> {
    this.calls.seen++;
    const now = this.now();
    this.atomically(() => {
      for (const [seq, ticketId] of refs.slice(0, MAX_REFS_PER_REPORT)) {
        if (Number.isSafeInteger(seq) && typeof ticketId === "string") this.sql.exec("UPDATE tickets SET seen_at = ? WHERE seq = ? AND ticket_id = ?", now, seq, ticketId);
      }
    });
  }

  /**
   * Passes used through the gate: each holds capacity until PASS_IDLE_SECONDS from now (never past its
   * expiry), again if it had stopped. A completed booking's pass holds none, however it is used after.
   */
  private passesUsed(refs: readonly TicketRef[], now: number): void {
    if (refs.length === 0) return;
    const until = now + edgeConfig(this.env).passIdleSeconds * 1000;
    for (const [seq, ticketId] of refs.slice(0, MAX_REFS_PER_REPORT)) {
      if (!Number.isSafeInteger(seq) || typeof ticketId !== "string") continue;
      this.sql.exec(
        "UPDATE tickets SET active_until = MIN(pass_exp, ?) WHERE seq = ? AND ticket_id = ? AND claimed_at IS NOT NULL AND completed_at IS NULL AND pass_exp > ?",
        until, seq, ticketId, now,
      );
    }
    // A pass that had stopped holding capacity may hold it again: count at the next tick.
    this.holding = null;
  }

  /** A citizen back within the return window after the line passed them over (or their admission lapsed). */
  private comeBack(row: TicketRow, now: number): void {
    this.returnersWaiting = null;
    // Away: admitted and let it lapse, or heard from after joining and then silent when the line came.
    const known = row.admitted_at !== null || (row.seen_at !== null && row.seen_at > row.joined_at);
    this.sql.exec(
      "UPDATE tickets SET returned_at = ?, seen_at = ?, away_known = ?, passed_at = COALESCE(passed_at, active_until), admitted_at = NULL, active_until = NULL WHERE seq = ?",
      now, now, known ? 1 : 0, row.seq,
    );
  }

  private returnWindowMs(): number {
    return edgeConfig(this.env).returnWindowSeconds * 1000;
  }

  /**
   * Feeds reported samples to the autopilot. They come from this project's own Worker, but over a wire, so
   * only well-formed ones count and at most as many as the gate ever holds for a shard.
   */
  private hear(samples: readonly HealthSample[], now: number): AutopilotState {
    const usable = samples
      .slice(-MAX_PENDING_PER_SHARD)
      .filter((s) => Number.isFinite(s.latencyMs) && s.latencyMs >= 0 && ORIGIN_OUTCOMES.includes(s.outcome));
    this.latencies.add(usable);
    return this.steer(now, usable, this.policy(this.shardAddress().shard).ratePerMinute);
  }

  /**
   * One step of the autopilot at `now`, with `configuredPerMinute` as its ceiling; written to the counters
   * row only when the state changed (between decisions, with no samples, it does not).
   */
  private steer(now: number, samples: readonly HealthSample[], configuredPerMinute: number): AutopilotState {
    const config = edgeConfig(this.env);
    const pilotConfig = shardAutopilotConfig(config.autopilot, configuredPerMinute, config.shards);
    // `this.pilot` is always a state the row holds (read from it or written to it below).
    const known = this.pilot;
    const state = known ?? readAutopilotState(this.row.autopilot) ?? initialAutopilot(pilotConfig, now);
    const next = autopilotStep(state, samples, pilotConfig, now);
    // Every tick steps the controller; between decisions, with nothing heard, it hands back the same state.
    if (next === known) return next;
    this.pilot = next;
    const stored = JSON.stringify(next);
    if (stored !== this.row.autopilot) {
      this.sql.exec("UPDATE counters SET autopilot = ? WHERE id = 1", stored);
      this.row = { ...this.row, autopilot: stored };
    }
    return next;
  }

  /**
   * The cohort's pre-queue schedule, when it has one; a cohort without `prequeueOpensAt` behaves exactly
   * as before. Read once per instance: bindings change only with a deploy, which restarts the object.
   */
  private prequeueSchedule(): { cohort: string; opensAt: number } | null {
    if (this.schedule === undefined) {
      const cohort = this.shardAddress().cohort;
      const found = edgeConfig(this.env).cohorts.find((c) => c.id === cohort);
      this.schedule = found?.prequeueOpensAt === undefined ? null : { cohort, opensAt: Date.parse(found.opensAt) };
    }
    return this.schedule;
  }

  /** Whether a join at `now` goes to the pre-queue: the cohort has one, and it has not been placed yet. */
  private awaitsDraw(now: number): boolean {
    if (this.row.prequeue_placed_at !== null) return false;
    const schedule = this.prequeueSchedule();
    return schedule !== null && now < schedule.opensAt;
  }

  /**
   * A join before the opening: the citizen's pre-queue ticket, or a new one with its draw value. The value
   * is computed before the critical section (WebCrypto is asynchronous); the section then looks and
   * writes with no await between, as every other one does.
   */
  private async joinPrequeue(citizenKey: string): Promise<JoinResult> {
    const { cohort, opensAt } = this.prequeueSchedule()!;
    const ticketId = newTicketId();
    const value = await drawValue(await cohortSeed(edgeConfig(this.env).drawSecret, cohort), ticketId);
    const now = this.now();
    if (!this.awaitsDraw(now)) {
      // The opening came while the value was computed: this join is one of the first after it, in the
      // line behind the whole pre-queue. Counted once, as the join it is.
      this.calls.join--;
      return this.join(citizenKey);
    }
    const tag = citizenTag(citizenKey);
    const { held, snap } = this.atomically(() => {
      const tick = this.tick(now);
      const held = this.sql
        .exec<{ ticket_id: string; joined_at: number }>("SELECT ticket_id, joined_at FROM prequeue WHERE citizen_tag = ? AND citizen_key = ?", tag, citizenKey)
        .toArray()[0];
      if (!held) {
        this.sql.exec(
          "INSERT INTO prequeue (draw_value, ticket_id, citizen_tag, citizen_key, joined_at) VALUES (?, ?, ?, ?, ?)",
          value, ticketId, tag, citizenKey, now,
        );
      }
      return { held, snap: this.snapshotOf(tick, now) };
    });
    // The opening must happen even if nobody asks at that moment: an alarm then places the pre-queue and
    // starts admitting. Alarms run on the runtime's clock, as the opening time is.
    if (this.alarmAt === null || this.alarmAt > opensAt) {
      this.alarmAt = opensAt;
      await this.ctx.storage.setAlarm(opensAt);
    }
    const ticket = held ? { ticketId: held.ticket_id, joinedAt: held.joined_at } : { ticketId, joinedAt: now };
    return { ...ticket, seq: 0, replacedExpired: false, prequeue: true, snapshot: snap };
  }

  /**
   * At the first moment at or after the opening, places every pre-queue ticket in the line, in draw order,
   * as the next places (1..k in a fresh shard); joins from then on follow from k + 1 in arrival order.
   * Runs inside the caller's transaction, so an eviction leaves either all of it or none of it, and the
   * recorded placement makes it happen once.
   */
  private placePrequeueIfDue(now: number): void {
    if (this.row.prequeue_placed_at !== null) return;
    const schedule = this.prequeueSchedule();
    if (schedule === null || now < schedule.opensAt) return;
    const firstSeq = this.row.last_seq + 1;
    // The placement counts as seeing everyone placed: the pre-queue's polls are answered at the edge, so
    // the first places are reached before their holders' first polls after the opening can say they are here.
    this.sql.exec(
      `INSERT INTO tickets (seq, ticket_id, citizen_tag, citizen_key, joined_at, seen_at)
       SELECT ? + ROW_NUMBER() OVER (ORDER BY draw_value), ticket_id, citizen_tag, citizen_key, joined_at, ? FROM prequeue`,
      firstSeq - 1,
      now,
    );
    // The citizen index, if a join has read it already, learns the placed tickets like any others.
    if (this.citizens) {
      for (const [tag, seq] of this.sql.exec("SELECT citizen_tag, seq FROM tickets WHERE seq >= ? ORDER BY seq", firstSeq).raw()) {
        this.citizens.add(tag as number, seq as number);
      }
    }
    const placed = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM prequeue").one().n;
    const lastSeq = firstSeq - 1 + placed;
    this.sql.exec("UPDATE counters SET last_seq = ?, prequeue_placed_at = ?, prequeue_first_seq = ? WHERE id = 1", lastSeq, now, firstSeq);
    this.row = { ...this.row, last_seq: lastSeq, prequeue_placed_at: now, prequeue_first_seq: firstSeq };
  }

  /**
   * The shard's draw for publication. Brings the shard up to now first, so asking after the opening is
   * itself enough to place the pre-queue. Before the placement nothing of the draw is told.
   */
  async draw(): Promise<ShardDraw> {
    this.calls.draw++;
    const now = this.now();
    const { result, snap } = this.atomically(() => {
      const tick = this.tick(now);
      const placedAt = this.row.prequeue_placed_at;
      const values = placedAt === null ? [] : this.sql.exec<{ draw_value: string }>("SELECT draw_value FROM prequeue ORDER BY draw_value").toArray().map((r) => r.draw_value);
      const result: ShardDraw = { placedAt, firstSeq: this.row.prequeue_first_seq ?? 1, values };
      return { result, snap: this.snapshotOf(tick, now) };
    });
    await this.keepMoving(snap);
    return result;
  }

  override async alarm(): Promise<void> {
    this.alarmAt = null;
    if (!this.address) return;
    const now = this.now();
    const snap = this.atomically(() => this.snapshotOf(this.tick(now), now));
    await this.keepMoving(snap);
  }

  /**
   * Brings the shard up to `now`: lets in whoever the admission rule allows. Synchronous by design, and
   * it writes only what changed: nothing at all when no one was let in.
   */
  private tick(now: number): Tick {
    // The opening comes first: everyone of the pre-queue is placed before anyone who joins at or after it.
    this.placePrequeueIfDue(now);
    const row = this.row;
    const config = edgeConfig(this.env);
    const configured = this.policy(this.shardAddress().shard);
    // The autopilot's rate replaces the configured one, which is its ceiling (src/edge/origin-health/autopilot.ts).
    const policy = { ...configured, ratePerMinute: this.steer(now, [], configured.ratePerMinute).ratePerMinute };
    const before: ShardCounters = { lastSeq: row.last_seq, serving: row.serving, credit: row.credit, creditAt: row.credit_at };
    const active = this.activeAt(now);
    const line = this.lineAt(now, config.presenceSeconds);
    const step = advance(before, active, policy, now, line);
    const { counters } = step;
    const admitted = step.admitted + step.returnsAdmitted.length;
    const passed = step.passedOver.length + step.returnsPassed.length;
    if (admitted > 0) {
      const deadline = admissionDeadline(now, config.claimWindowSeconds);
      this.sql.exec("UPDATE tickets SET admitted_at = ?, active_until = ? WHERE seq > ? AND seq <= ?", now, deadline, before.serving, counters.serving);
      for (const seq of step.returnsAdmitted) this.sql.exec("UPDATE tickets SET admitted_at = ?, active_until = ? WHERE seq = ?", now, deadline, seq);
      this.holding = { count: active + admitted, earliestExpiry: Math.min(this.holding!.earliestExpiry, deadline), countedAt: this.holding!.countedAt };
    }
    // Reached while away: no admission, no capacity. Written after the range above, which they are inside.
    for (const seq of step.passedOver) this.sql.exec("UPDATE tickets SET admitted_at = NULL, active_until = NULL, passed_at = ? WHERE seq = ?", now, seq);
    for (const seq of step.returnsPassed) this.sql.exec("UPDATE tickets SET returned_at = NULL, passed_at = ? WHERE seq = ?", now, seq);
    if (admitted > 0 || passed > 0) {
      const minute = Math.floor(now / 60_000);
      this.sql.exec(
        "INSERT INTO admissions_per_minute (minute, admitted, passed) VALUES (?, ?, ?) ON CONFLICT (minute) DO UPDATE SET admitted = admitted + excluded.admitted, passed = passed + excluded.passed",
        minute,
        admitted,
        passed,
      );
      if (minute !== this.prunedMinute) {
        this.sql.exec("DELETE FROM admissions_per_minute WHERE minute < ?", minute - 2 * PACE_MINUTES);
        this.prunedMinute = minute;
      }
    }
    // Credit accrues the same however often it is brought up to date (it is capped at a burst, and
    // min(B, min(B, c + a) + b) = min(B, c + a + b)), so it is written only with an admission, which
    // spends it. While paused it must not accrue, so a pause is written as it happens.
    const firstAdmittedAt = row.first_admitted_at ?? (admitted > 0 ? now : null);
    const admittedBefore = row.admitted_total;
    if (admitted > 0 || passed > 0 || (policy.paused && (counters.creditAt !== row.credit_at || counters.credit !== row.credit))) {
      const admittedTotal = row.admitted_total + admitted;
      const passedTotal = row.passed_total + passed;
      this.sql.exec(
        "UPDATE counters SET serving = ?, credit = ?, credit_at = ?, first_admitted_at = ?, admitted_total = ?, passed_total = ? WHERE id = 1",
        counters.serving,
        counters.credit,
        counters.creditAt,
        firstAdmittedAt,
        admittedTotal,
        passedTotal,
      );
      this.row = {
        ...this.row,
        serving: counters.serving,
        credit: counters.credit,
        credit_at: counters.creditAt,
        first_admitted_at: firstAdmittedAt,
        admitted_total: admittedTotal,
        passed_total: passedTotal,
      };
    }
    this.recordMinute(now, before, admittedBefore, active + admitted);
    const returning = line.returning.length - step.returnsAdmitted.length - step.returnsPassed.length;
    this.returnersWaiting = returning;
    return { counters, active: active + admitted, policy, configuredPerMinute: configured.ratePerMinute, firstAdmittedAt, returning };
  }

  /**
   * The line as the admission rule needs it at `now`: who came back, and whether a ticket's holder has been
   * seen within `presenceSeconds`. Rows are read only as the rule reaches them, a page at a time, so a tick
   * that admits one person reads one or two rows however long the line.
   */
  private lineAt(now: number, presenceSeconds: number): LineView {
    const since = now - presenceSeconds * 1000;
    const returners = this.returnersWaiting === 0
      ? []
      : this.sql
          .exec<{ seq: number; seen: number }>("SELECT seq, COALESCE(seen_at, joined_at) AS seen FROM tickets WHERE returned_at IS NOT NULL AND admitted_at IS NULL ORDER BY returned_at, seq")
          .toArray();
    const seen = new Map<number, number>(returners.map((r) => [r.seq, r.seen]));
    let readUpTo = this.row.serving;
    return {
      returning: returners.map((r) => r.seq),
      present: (seq) => {
        if (!seen.has(seq) && seq > readUpTo) {
          for (const [s, at] of this.sql.exec("SELECT seq, COALESCE(seen_at, joined_at) FROM tickets WHERE seq > ? ORDER BY seq LIMIT 64", readUpTo).raw()) {
            seen.set(s as number, at as number);
            readUpTo = s as number;
          }
        }
        // A place with no row (a gap) has nobody to admit.
        return (seen.get(seq) ?? Number.NEGATIVE_INFINITY) >= since;
      },
    };
  }

  /**
   * Keeps the operators' per-minute history, at tick time, off the join path: every join and admission
   * happens in a call that ticks first, so the first tick of a new minute sees the counters exactly as the
   * previous minute (the one being counted) left them, and closes it with one row. Minutes in which
   * nothing called the object had no joins and no admissions; history() fills them in.
   */
  private recordMinute(now: number, before: ShardCounters, admittedBefore: number, active: number): void {
    const minute = Math.floor(now / 60_000);
    const mark = (this.minuteMark ??= this.resumeMinute(minute, before, admittedBefore, active));
    if (minute <= mark.minute) {
      mark.active = active;
      mark.activeMax = Math.max(mark.activeMax, active);
      return;
    }
    const admitted = admittedBefore - mark.admittedTotal;
    this.sql.exec(
      "INSERT OR REPLACE INTO ops_minutes (minute, joined, admitted, last_seq, serving, active_end, active_max, median_wait_ms, admitted_total) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
      mark.minute, before.lastSeq - mark.lastSeq, admitted, before.lastSeq, before.serving, mark.active, mark.activeMax, this.medianWait(mark.serving, before.serving), admittedBefore,
    );
    this.sql.exec("DELETE FROM ops_minutes WHERE minute <= ?", minute - HISTORY_MINUTES);
    this.minuteMark = { minute, lastSeq: before.lastSeq, serving: before.serving, admittedTotal: admittedBefore, active, activeMax: active };
  }

  /**
   * The minute to count after a start: from the counters the last recorded minute ended with, so what
   * happened after it and before an eviction is counted now rather than lost; a shard without history
   * starts from its counters as they are.
   */
  private resumeMinute(minute: number, before: ShardCounters, admittedBefore: number, active: number): MinuteMark {
    const last = this.sql.exec<MinuteRow>("SELECT * FROM ops_minutes ORDER BY minute DESC LIMIT 1").toArray()[0];
    const from = last && last.minute < minute
      ? { lastSeq: last.last_seq, serving: last.serving, admittedTotal: last.admitted_total ?? last.serving }
      : { lastSeq: before.lastSeq, serving: before.serving, admittedTotal: admittedBefore };
    return { minute, ...from, active, activeMax: active };
  }

  /** The median wait (admission minus join) of the tickets reached in (fromServing, toServing] that were admitted. */
  private medianWait(fromServing: number, toServing: number): number | null {
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

  /**
   * The shard's last `minutes` minutes for the operators' console, oldest first, one entry a minute (the
   * last is the minute under way, so far): minutes without a row had no joins or admissions and keep the
   * previous minute's waiting and active counts.
   */
  history(minutes = HISTORY_MINUTES): ShardMinute[] {
    const span = Math.max(1, Math.min(HISTORY_MINUTES, Math.floor(minutes)));
    const now = this.now();
    return this.atomically(() => {
      const tick = this.tick(now);
      const current = this.minuteMark!;
      const first = current.minute - span + 1;
      const rows = new Map(this.sql.exec<MinuteRow>("SELECT * FROM ops_minutes WHERE minute >= ? ORDER BY minute", first - HISTORY_MINUTES).toArray().map((r) => [r.minute, r]));
      // What the minutes before the window ended with, to carry into its first empty minutes.
      let carried = { waiting: 0, active: 0 };
      for (const r of rows.values()) if (r.minute < first) carried = { waiting: r.last_seq - r.serving, active: r.active_end };
      const out: ShardMinute[] = [];
      for (let minute = first; minute < current.minute; minute++) {
        const r = rows.get(minute);
        if (r) carried = { waiting: r.last_seq - r.serving, active: r.active_end };
        out.push(r
          ? { minute, joined: r.joined, admitted: r.admitted, waiting: carried.waiting, active: r.active_end, activeMax: r.active_max, medianWaitMs: r.median_wait_ms }
          : { minute, joined: 0, admitted: 0, waiting: carried.waiting, active: carried.active, activeMax: carried.active, medianWaitMs: null });
      }
      const { lastSeq, serving } = tick.counters;
      out.push({
        minute: current.minute,
        joined: lastSeq - current.lastSeq,
        admitted: this.row.admitted_total - current.admittedTotal,
        waiting: lastSeq - serving,
        active: tick.active,
        activeMax: current.activeMax,
        medianWaitMs: this.medianWait(current.serving, serving),
      });
      return out;
    });
  }

  /**
   * The rule's inputs, read on every tick: the cohort's overrides in COHORTS, else the global bindings. A
   * new configuration (a deploy, a restart of `npm start`) takes effect at the next tick; places are in
   * SQLite and the rule only moves the serving counter forward, so no one's place changes with it.
   */
  private policy(shard: number): ShardPolicy {
    const config = edgeConfig(this.env);
    const cohort = cohortPolicy(config, this.shardAddress().cohort);
    return {
      ratePerMinute: shardRate(cohort.admitPerMinute, config.shards),
      activeCap: shardCap(cohort.maxActive, config.shards, shard),
      paused: cohort.paused,
    };
  }

  /**
   * People holding capacity at `now`. Counted in SQL only when someone may have stopped holding it since
   * the last count (the earliest expiry has passed, a booking completed, or the clock went backwards).
   */
  private activeAt(now: number): number {
    const h = this.holding;
    if (h && now < h.earliestExpiry && now >= h.countedAt) return h.count;
    const counted = this.sql
      .exec<{ n: number; first: number | null }>("SELECT COUNT(*) AS n, MIN(active_until) AS first FROM tickets WHERE active_until > ?", now)
      .one();
    this.holding = { count: counted.n, earliestExpiry: counted.first ?? Number.POSITIVE_INFINITY, countedAt: now };
    return counted.n;
  }

  private snapshotOf({ counters, active, policy, configuredPerMinute, firstAdmittedAt, returning }: Tick, now: number): ShardSnapshot {
    const pilot = this.pilot!;
    const finding = pilot.lastFinding;
    const origin = {
      reason: pilot.reason,
      changedAt: pilot.changedAt,
      errorShare: finding && finding.samples > 0 ? finding.errorShare : null,
      p95Ms: this.latencies.p95(),
      samples: this.latencies.size,
    };
    const { admitted_total: admitted, passed_total: passed } = this.row;
    const presence = { returning, presentShare: admitted + passed > 0 ? admitted / (admitted + passed) : null, reached: admitted + passed };
    return shardSnapshot(counters, active, policy, this.observedPace(firstAdmittedAt, now), now, { configuredPerMinute, origin }, presence);
  }

  private observedPace(firstAdmittedAt: number | null, now: number): number | null {
    const minute = Math.floor(now / 60_000);
    // Whole past minutes only, so the figure can change only when the minute does (or admissions begin).
    if (this.pace && this.pace.minute === minute && (this.pace.perMinute !== null || firstAdmittedAt === null)) return this.pace.perMinute;
    const perMinute = observedPace(firstAdmittedAt, now, (from, to) =>
      this.sql.exec<{ n: number | null }>("SELECT SUM(admitted) AS n FROM admissions_per_minute WHERE minute >= ? AND minute < ?", from, to).one().n ?? 0,
    );
    this.pace = { minute, perMinute };
    return perMinute;
  }

  /** While anyone waits, make sure an alarm will move the line even if nobody polls. */
  private async keepMoving(snap: ShardSnapshot): Promise<void> {
    if ((snap.lastSeq <= snap.serving && !snap.returning) || snap.paused) return;
    // Alarms run on the runtime's clock, whatever clock the admission rule is given.
    const now = Date.now();
    if (this.alarmAt !== null && this.alarmAt > now - TICK_MS) return;
    this.alarmAt = now + TICK_MS;
    await this.ctx.storage.setAlarm(this.alarmAt);
  }

  /**
   * Test hook for the fault suite, reached only through src/edge/routes/faults.ts and refused unless
   * FAULT_HOOKS is "on": shifts the object's clock by `clockOffsetMs` from the runtime's, or resets the
   * object as an eviction does (`ctx.abort()`: calls in flight fail, the next call starts a new instance
   * from SQLite, on the runtime's clock).
   */
  injectFault(fault: { clockOffsetMs: number } | { evict: true }): { now: number } {
    if (this.env.FAULT_HOOKS !== "on") throw new Error("fault hooks are off");
    if ("evict" in fault) this.ctx.abort("evicted by the fault suite");
    else {
      const offset = fault.clockOffsetMs;
      this.now = offset === 0 ? () => Date.now() : () => Date.now() + offset;
    }
    return { now: this.now() };
  }
}

/**
 * Which tickets each citizen holds, by citizen tag, held in memory and read from the tickets table the
 * first time a join needs it (a shard woken for a poll or an alarm never reads it). SQLite stays the
 * record: the index is only a way into it, rebuilt from it after a restart or a rolled-back commit.
 * About 40 bytes a ticket, so a shard of a million tickets holds ~40 MB, inside an object's 128 MB.
 *
 * Tags are 48 bits of a random key, so two citizens of one shard share a tag about once in 10^8 pairs;
 * a tag then lists every seq that carries it and each row is compared by the full key.
 */
class CitizenIndex {
  private readonly seqs = new Map<number, number | number[]>();

  static read(sql: SqlStorage): CitizenIndex {
    const index = new CitizenIndex();
    for (const row of sql.exec<{ citizen_tag: number; seq: number }>("SELECT citizen_tag, seq FROM tickets ORDER BY seq").raw()) {
      index.add(row[0] as number, row[1] as number);
    }
    return index;
  }

  /** Records a ticket; seqs only grow, so the last one recorded for a tag is its newest. */
  add(tag: number, seq: number): void {
    const held = this.seqs.get(tag);
    if (held === undefined) this.seqs.set(tag, seq);
    else if (typeof held === "number") this.seqs.set(tag, [held, seq]);
    else held.push(seq);
  }

  /** The newest ticket under `tag` that `own` accepts (reads the row and compares the citizen key). */
  latest<T>(tag: number, own: (seq: number) => T | undefined): T | undefined {
    const held = this.seqs.get(tag);
    if (held === undefined) return undefined;
    if (typeof held === "number") return own(held);
    for (let i = held.length - 1; i >= 0; i--) {
      const row = own(held[i]!);
      if (row !== undefined) return row;
    }
    return undefined;
  }
}

function stateOf(row: TicketRow, serving: number, now: number, returnWindowMs: number): TicketState {
  if (row.seq > serving) return "waiting";
  if (row.completed_at !== null) return row.pass_exp !== null && row.pass_exp > now ? "completed" : "expired";
  if (row.claimed_at !== null) return row.pass_exp !== null && row.pass_exp > now ? "claimed" : "expired";
  if (row.admitted_at === null) {
    if (row.returned_at !== null) return "returning";
    return row.passed_at !== null && now - row.passed_at <= returnWindowMs ? "away" : "expired";
  }
  if (row.active_until !== null && row.active_until > now) return "admitted";
  // Admitted and never claimed: the admission lapsed when its claim window ended.
  return row.active_until !== null && now - row.active_until <= returnWindowMs ? "away" : "expired";
}

/** Pass times in JWT seconds. `exp` rounds down so the pass never outlives the capacity it holds. */
function passTimes(claimedAt: number, passExp: number): { iat: number; exp: number } {
  return { iat: Math.floor(claimedAt / 1000), exp: Math.floor(passExp / 1000) };
}
