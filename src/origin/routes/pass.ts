import type { MiddlewareHandler } from "hono";
import { PASS_COOKIE } from "../../contract/pass.js";
import { presentedCredential } from "../../http/credentials.js";
import type { OriginDeps, OriginEnv } from "../env.js";
import { invalidToken } from "../errors.js";

/**
 * Lets a request through only with a pass the edge signed: `c.var.pass` is then the verified claims.
 * The origin checks it again although the edge already did, because the origin trusts nothing else.
 */
export function requirePass(deps: OriginDeps): MiddlewareHandler<OriginEnv> {
  return async (c, next) => {
    const credential = presentedCredential(c, PASS_COOKIE);
    if (credential.kind === "none") throw invalidToken("a pass is required", false);
    if (credential.kind === "malformed") throw invalidToken("the Authorization header must be: Bearer <pass>", true);
    const verdict = await deps.verifyPass(credential.token);
    if (!verdict.ok) throw invalidToken(verdict.reason, true);
    c.set("pass", verdict.pass);
    await next();
  };
}
