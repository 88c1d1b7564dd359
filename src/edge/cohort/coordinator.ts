import { DurableObject } from "cloudflare:workers";
import { cohortPolicy, edgeConfig } from "../config.js";
import {
  cohortRate,
  cohortView,
  emptyLine,
  takeReport,
  type CohortLineState,
  type CohortPolicy,
  type CohortView,
  type CoordinatorReply,
  type RankedRun,
  type ShardReport,
  type ShardState,
  type UnrankedRun,
} from "./cohort-line.js";

/**
 * CohortCoordinator: one Durable Object per cohort (reached by the cohort's id), keeping the cohort's
 * shards one line (cohort-line.ts). Only the shards call it, each about once a second from its alarm: no
 * join and no poll ever waits for it. Its state is in SQLite, read into memory at start and written
 * through by each report in one transaction, so an eviction loses nothing.
 */
export class CohortCoordinator extends DurableObject<Env> {
  private line!: CohortLineState;
  private readonly sql: SqlStorage;

  /** The object's clock: the runtime's. A test subclass overrides it to travel in time. */
  protected now(): number {
    return Date.now();
  }

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    ctx.blockConcurrencyWhile(async () => {
      migrate(ctx.storage);
      this.line = this.read();
    });
  }

  /** A shard's report: its new places and its figures; the answer is its ranks, its grant and the cohort. */
  report(report: ShardReport): CoordinatorReply {
    const now = this.now();
    try {
      return this.ctx.storage.transactionSync(() => {
        const { reply, changes } = takeReport(this.line, report, this.policy(), now);
        for (const run of changes.added) {
          this.sql.exec("INSERT OR REPLACE INTO unranked (shard, first_seq, key, count) VALUES (?, ?, ?, ?)", run.shard, run.firstSeq, run.key, run.count);
        }
        for (const run of changes.rankedJoins) this.sql.exec("DELETE FROM unranked WHERE shard = ? AND first_seq = ?", run.shard, run.firstSeq);
        for (const run of changes.ranked) {
          this.sql.exec("INSERT OR REPLACE INTO runs (rank_base, shard, first_seq, count) VALUES (?, ?, ?, ?)", run.rankBase, run.shard, run.firstSeq, run.count);
        }
        for (const s of new Set([changes.shard, ...changes.granted])) this.writeShard(s);
        const s = changes.shard;
        // Runs behind the watermark that the reporting shard holds the ranks of are needed no more.
        this.sql.exec("DELETE FROM runs WHERE shard = ? AND first_seq + count - 1 <= ? AND rank_base + count <= ?", s.shard, s.ackedSeq, this.line.watermark);
        this.sql.exec(
          "UPDATE line SET next_rank = ?, watermark = ?, credit = ?, credit_at = ?, top_rate = ? WHERE id = 1",
          this.line.nextRank, this.line.watermark, this.line.credit, this.line.creditAt, this.line.topRate,
        );
        return reply;
      });
    } catch (err) {
      // Memory is never ahead of SQLite: what the rolled-back report changed is read again.
      this.line = this.read();
      throw err;
    }
  }

  /** The cohort as a whole, for the operators' console. */
  view(): CohortView {
    const now = this.now();
    const policy = this.policy();
    return cohortView(this.line, policy, cohortRate(this.line, policy), now);
  }

  private policy(): CohortPolicy {
    const config = edgeConfig(this.env);
    const cohort = this.ctx.id.name ?? "";
    const schedule = config.cohorts.find((c) => c.id === cohort);
    const prequeueOpensAt = schedule?.prequeueOpensAt === undefined ? undefined : Date.parse(schedule.opensAt);
    return { ...cohortPolicy(config, cohort), shards: config.shards, ...(prequeueOpensAt === undefined ? {} : { prequeueOpensAt }) };
  }

  private writeShard(s: ShardState): void {
    this.sql.exec("INSERT OR REPLACE INTO shards (shard, state) VALUES (?, ?)", s.shard, JSON.stringify(s, (_, v: unknown) => (v === Number.NEGATIVE_INFINITY ? null : v)));
  }

  private read(): CohortLineState {
    const scalars = this.sql.exec<{ next_rank: number; watermark: number; credit: number; credit_at: number; top_rate: number }>("SELECT * FROM line WHERE id = 1").toArray()[0];
    const line = emptyLine();
    if (!scalars) {
      this.sql.exec("INSERT INTO line (id, next_rank, watermark, credit, credit_at, top_rate) VALUES (1, 0, 0, 0, 0, 0)");
      return line;
    }
    Object.assign(line, { nextRank: scalars.next_rank, watermark: scalars.watermark, credit: scalars.credit, creditAt: scalars.credit_at, topRate: scalars.top_rate });
    for (const row of this.sql.exec<{ state: string }>("SELECT state FROM shards")) {
      const parsed = JSON.parse(row.state) as Record<string, number | null>;
      // A stored state without a lease holds none.
      const s = { lease: 0, ...Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, v === null && k !== "observedPerMinute" ? Number.NEGATIVE_INFINITY : v])) } as unknown as ShardState;
      line.shards.set(s.shard, s);
    }
    line.unranked = this.sql
      .exec<{ shard: number; first_seq: number; key: number; count: number }>("SELECT * FROM unranked ORDER BY shard, first_seq")
      .toArray()
      .map((r): UnrankedRun => ({ shard: r.shard, firstSeq: r.first_seq, key: r.key, count: r.count }));
    const runs = this.sql
      .exec<{ rank_base: number; shard: number; first_seq: number; count: number }>("SELECT * FROM runs ORDER BY rank_base")
      .toArray()
      .map((r): RankedRun => ({ rankBase: r.rank_base, shard: r.shard, firstSeq: r.first_seq, count: r.count }));
    line.runs = runs.filter((r) => r.rankBase + r.count > line.watermark);
    for (const run of runs) {
      const s = line.shards.get(run.shard);
      if (s && run.firstSeq + run.count - 1 <= s.ackedSeq) continue;
      const outbox = line.outbox.get(run.shard);
      if (outbox) outbox.push(run);
      else line.outbox.set(run.shard, [run]);
    }
    for (const outbox of line.outbox.values()) outbox.sort((a, b) => a.firstSeq - b.firstSeq);
    return line;
  }
}

function migrate(storage: DurableObjectStorage): void {
  storage.sql.exec(`CREATE TABLE IF NOT EXISTS line (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      next_rank INTEGER NOT NULL, watermark INTEGER NOT NULL, credit REAL NOT NULL, credit_at INTEGER NOT NULL,
      top_rate REAL NOT NULL
    );
    CREATE TABLE IF NOT EXISTS shards (shard INTEGER PRIMARY KEY, state TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS unranked (shard INTEGER NOT NULL, first_seq INTEGER NOT NULL, key INTEGER NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (shard, first_seq)) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS runs (rank_base INTEGER PRIMARY KEY, shard INTEGER NOT NULL, first_seq INTEGER NOT NULL, count INTEGER NOT NULL);
    CREATE INDEX IF NOT EXISTS runs_by_shard ON runs (shard, first_seq);`);
}

/** The coordinator of a cohort, reached by the cohort's id. */
export function coordinatorStub(env: Env, cohort: string): DurableObjectStub<CohortCoordinator> {
  return env.COHORT_COORDINATOR.getByName(cohort);
}
