import { DurableObject } from "cloudflare:workers";

/**
 * Remembers which one-time operator login codes were spent, so a code works once however many Workers
 * see it: one object for the whole edge (reached by the name "operator-logins"), whose single-threaded
 * input gate makes "is it spent? spend it" one atomic step. A spent code is forgotten once it has expired,
 * because an expired code is refused before it gets here.
 */
export class OperatorLogins extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS spent_login_codes (id TEXT PRIMARY KEY, expires_at INTEGER NOT NULL)");
  }

  /** Spends the code `id`; true the first time, false ever after (until it has expired). */
  spend(id: string, expiresAt: number): boolean {
    const sql = this.ctx.storage.sql;
    sql.exec("DELETE FROM spent_login_codes WHERE expires_at < ?", Date.now());
    return sql.exec("INSERT INTO spent_login_codes (id, expires_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING", id, expiresAt).rowsWritten > 0;
  }
}

export function operatorLogins(env: Env): DurableObjectStub<OperatorLogins> {
  return env.OPERATOR_LOGINS.getByName("operator-logins");
}
