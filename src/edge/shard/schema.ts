import { citizenTag } from "../identity/citizen-key.js";

/**
 * A shard's SQLite schema: its rows as the code reads them, and the migrations that build it, one
 * versioned list applied in order at the object's start. PRAGMA user_version is not available to a
 * Durable Object, so the versions applied are recorded in `schema_migrations`.
 */

export interface TicketRow extends Record<string, SqlStorageValue> {
  seq: number;
  ticket_id: string;
  joined_at: number;
  admitted_at: number | null;
  claimed_at: number | null;
  pass_exp: number | null;
  completed_at: number | null;
  /** Until when this ticket holds capacity (an unclaimed admission or a pass in use); null when it holds none. */
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
  /** When its holder gave the place up (left the line); null if they did not. A left place is never admitted. */
  left_at: number | null;
}

export interface CounterRow extends Record<string, SqlStorageValue> {
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
  /** The least share present the line has found (wait-estimate.ts's presentFound at each tick); null before. */
  least_present: number | null;
  /** Everyone who ever left the line: the operators' departures. */
  left_total: number;
  /** The shard's side of the cohort's one line as JSON (coordination.ts); null until it first reports. */
  coordination: string | null;
}

export interface MinuteRow extends Record<string, SqlStorageValue> {
  minute: number;
  joined: number;
  admitted: number;
  last_seq: number;
  serving: number;
  active_end: number;
  active_max: number;
  median_wait_ms: number | null;
  /** The counters' admitted_total at the minute's end; null in rows written before pass-overs were counted. */
  admitted_total: number | null;
  /** Of the places waiting at the minute's end, those given up; null in rows written before leaving existed. */
  left_waiting: number | null;
}

/**
 * A ticket's Web Push subscription (push-notices.ts): where its citizen's browser takes notices, in which
 * language, and for each notice when it was put on the queue, accepted by the push service and reported
 * arrived by the service worker. Nothing of the citizen: the ticket is the only link.
 */
export interface PushRow extends Record<string, SqlStorageValue> {
  seq: number;
  ticket_id: string;
  endpoint: string;
  p256dh: string;
  auth: string;
  lang: string;
  near_queued_at: number | null;
  near_accepted_at: number | null;
  near_received_at: number | null;
  admitted_queued_at: number | null;
  admitted_accepted_at: number | null;
  admitted_received_at: number | null;
  booked_queued_at: number | null;
  booked_code: string | null;
}

interface Migration {
  version: number;
  apply(sql: SqlStorage): void;
}

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    apply: (sql) =>
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
  },
  {
    // The citizen is found by a 48-bit tag of their key, and the ticket id has no unique index (a pass names
    // its seq; ids are 128 random bits). SQLite cannot drop a UNIQUE constraint, so the table is rebuilt.
    version: 2,
    apply: (sql) => {
      sql.exec(`CREATE TABLE tickets_v2 (
         seq INTEGER PRIMARY KEY,
         ticket_id TEXT NOT NULL,
         citizen_tag INTEGER NOT NULL,
         citizen_key TEXT NOT NULL,
         joined_at INTEGER NOT NULL,
         admitted_at INTEGER, claimed_at INTEGER, pass_exp INTEGER, completed_at INTEGER,
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
  },
  {
    // The citizen lookup is in memory (citizen-index.ts): an index on random keys costs a page write per join.
    version: 3,
    apply: (sql) => sql.exec("DROP INDEX tickets_by_citizen_tag"),
  },
  {
    // The pre-queue: tickets without a place, kept in draw order until the opening places them in `tickets`.
    // The rows stay: the published draw is read from them.
    version: 4,
    apply: (sql) =>
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
  },
  {
    // The operators' per-minute history (history.ts): one row per minute in which anything happened.
    version: 5,
    apply: (sql) =>
      sql.exec(`CREATE TABLE ops_minutes (
         minute INTEGER PRIMARY KEY,
         joined INTEGER NOT NULL, admitted INTEGER NOT NULL,
         last_seq INTEGER NOT NULL, serving INTEGER NOT NULL,
         active_end INTEGER NOT NULL, active_max INTEGER NOT NULL,
         median_wait_ms INTEGER
       )`),
  },
  {
    // The autopilot's state: a handful of numbers read and written whole with the counters, kept across restarts.
    version: 6,
    apply: (sql) => sql.exec("ALTER TABLE counters ADD COLUMN autopilot TEXT"),
  },
  {
    // Presence: when a holder was seen, passed over and came back; admissions and pass-overs counted apart.
    version: 7,
    apply: (sql) =>
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
  },
  {
    // One line per cohort (src/edge/cohort/): each ticket's order key, the cohort-wide ranks of the shard's
    // places as runs, and the shard's side of the coordination. Tickets from before have no key: their
    // second of joining stands for it.
    version: 8,
    apply: (sql) =>
      sql.exec(`ALTER TABLE tickets ADD COLUMN order_key INTEGER;
        CREATE TABLE ranks (first_seq INTEGER PRIMARY KEY, count INTEGER NOT NULL, rank_base INTEGER NOT NULL);
        ALTER TABLE counters ADD COLUMN coordination TEXT;`),
  },
  {
    // The least share present the line has found: the soonest a turn can come counts it, and it only falls.
    version: 9,
    apply: (sql) => sql.exec("ALTER TABLE counters ADD COLUMN least_present REAL"),
  },
  {
    // Leaving the line: when a place was given up (in the line or in the pre-queue), and departures counted.
    version: 10,
    apply: (sql) =>
      sql.exec(`ALTER TABLE tickets ADD COLUMN left_at INTEGER;
        CREATE INDEX tickets_left ON tickets (seq) WHERE left_at IS NOT NULL;
        CREATE INDEX tickets_left_at ON tickets (left_at) WHERE left_at IS NOT NULL;
        ALTER TABLE prequeue ADD COLUMN left_at INTEGER;
        CREATE INDEX prequeue_left_at ON prequeue (left_at) WHERE left_at IS NOT NULL;
        ALTER TABLE counters ADD COLUMN left_total INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE ops_minutes ADD COLUMN left_waiting INTEGER;`),
  },
  {
    // Web Push: a subscription per ticket that has one, and which notices went out (push-notices.ts).
    version: 11,
    apply: (sql) =>
      sql.exec(`CREATE TABLE push_subscriptions (
         seq INTEGER PRIMARY KEY,
         ticket_id TEXT NOT NULL,
         endpoint TEXT NOT NULL, p256dh TEXT NOT NULL, auth TEXT NOT NULL, lang TEXT NOT NULL,
         near_queued_at INTEGER, near_accepted_at INTEGER, near_received_at INTEGER,
         admitted_queued_at INTEGER, admitted_accepted_at INTEGER, admitted_received_at INTEGER,
         booked_queued_at INTEGER, booked_code TEXT
       )`),
  },
];

export const CURRENT_SCHEMA_VERSION = MIGRATIONS.length;

/** Brings the schema up to CURRENT_SCHEMA_VERSION, each version in a transaction of its own. */
export function migrate(storage: DurableObjectStorage): void {
  const sql = storage.sql;
  sql.exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
  const applied = sql.exec<{ v: number | null }>("SELECT MAX(version) AS v FROM schema_migrations").one().v ?? 0;
  for (const migration of MIGRATIONS) {
    if (migration.version <= applied) continue;
    storage.transactionSync(() => {
      migration.apply(sql);
      sql.exec("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", migration.version, Date.now());
    });
  }
}
