import { PASS_COOKIE } from "../contract/pass.js";
import type { MiddlewareHandler } from "hono";
import type { PassClaims } from "../contract/pass.js";
import { edgeConfig } from "./config.js";
import { fail } from "../http/errors.js";
import { verifyPass } from "./passes.js";
import { bearerOrCookie } from "../http/json-body.js";


export type PassVariables = { pass: PassClaims; passToken: string };

/**
 * Admits a request only with a valid pass (bearer or cookie), so the origin sees nothing but admitted
 * traffic. The origin verifies the pass again on its own.
 */
export const requirePass: MiddlewareHandler<{ Bindings: Env; Variables: PassVariables }> = async (c, next) => {
  const token = bearerOrCookie(c, PASS_COOKIE);
  if (!token) {
    throw fail(401, "invalid_token", "a pass is required: wait for your turn in the queue", { headers: { "www-authenticate": "Bearer" } });
  }
  const check = await verifyPass(edgeConfig(c.env), token);
  if (!check.ok) {
    throw fail(401, "invalid_token", "the pass is not valid or has expired", { headers: { "www-authenticate": 'Bearer error="invalid_token"' } });
  }
  c.set("pass", check.pass);
  c.set("passToken", token);
  await next();
};

