import type { Context, MiddlewareHandler } from "hono";
import { getCookie } from "hono/cookie";
import type { OriginDeps, OriginEnv } from "../env.js";
import { invalidToken } from "../errors.js";

/** The cookie the edge may set instead of an Authorization header. */
export const PASS_COOKIE = "wr_pass";

function presentedPass(c: Context<OriginEnv>): string | undefined {
  const header = c.req.header("Authorization");
  if (header !== undefined) {
    const match = /^Bearer +([^\s]+) *$/i.exec(header);
    return match?.[1] ?? "";
  }
  return getCookie(c, PASS_COOKIE);
}

/**
 * Lets a request through only with a pass the edge signed: `c.var.pass` is then the verified claims.
 * The origin checks it again although the edge already did, because the origin trusts nothing else.
 */
export function requirePass(deps: OriginDeps): MiddlewareHandler<OriginEnv> {
  return async (c, next) => {
    const token = presentedPass(c);
    if (token === undefined) throw invalidToken("a pass is required", false);
    if (token === "") throw invalidToken("the Authorization header must be: Bearer <pass>", true);
    const verdict = await deps.verifyPass(token);
    if (!verdict.ok) throw invalidToken(verdict.reason, true);
    c.set("pass", verdict.pass);
    await next();
  };
}
