import type { MiddlewareHandler } from "hono";
import { PASS_COOKIE, type PassClaims } from "../../contract/pass.js";
import { presentedCredential } from "../../http/credentials.js";
import { fail } from "../../http/errors.js";
import { edgeConfig } from "../config.js";
import { verifyPass } from "./pass.js";

export type PassVariables = { pass: PassClaims; passToken: string };

// RFC 6750: no credential at all gets a bare challenge; a broken or refused one says invalid_token.
const ASK_FOR_A_PASS = { "www-authenticate": "Bearer" };
const REFUSE_THE_PASS = { "www-authenticate": 'Bearer error="invalid_token"' };

/**
 * Admits a request only with a valid pass (bearer or cookie), so the origin sees nothing but admitted
 * traffic. The origin verifies the pass again on its own, with the same check.
 */
export const requirePass: MiddlewareHandler<{ Bindings: Env; Variables: PassVariables }> = async (c, next) => {
  const credential = presentedCredential(c, PASS_COOKIE);
  if (credential.kind === "none") {
    throw fail(401, "invalid_token", "a pass is required: wait for your turn in the queue", { headers: ASK_FOR_A_PASS });
  }
  if (credential.kind === "malformed") {
    throw fail(401, "invalid_token", "the Authorization header must be: Bearer <pass>", { headers: REFUSE_THE_PASS });
  }
  const check = await verifyPass(edgeConfig(c.env), credential.token);
  if (!check.ok) throw fail(401, "invalid_token", "the pass is not valid or has expired", { headers: REFUSE_THE_PASS });
  c.set("pass", check.pass);
  c.set("passToken", credential.token);
  await next();
};
