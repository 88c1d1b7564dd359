import type { MiddlewareHandler } from "hono";
import type { PassClaims } from "../contract/pass.js";
import { edgeConfig } from "./config.js";
import { fail } from "./errors.js";
import { verifyPass } from "./passes.js";
import { bearerOrCookie } from "./request.js";

/** Where the page keeps the pass: HttpOnly, so page scripts never need to handle it. */
export const PASS_COOKIE = "wr_pass";

export type PassVariables = { pass: PassClaims; passToken: string };

/**
 * Admits a request only with a valid pass (bearer or cookie), so the origin sees nothing but admitted
 * traffic. The origin verifies the pass again on its own.
 */
export const requirePass: MiddlewareHandler<{ Bindings: Env; Variables: PassVariables }> = async (c, next) => {
  const token = bearerOrCookie(c, PASS_COOKIE);
  if (!token) {
    throw fail(401, "invalid_token", "a pass is required: wait for your turn in the queue", {}, { "www-authenticate": "Bearer" });
  }
  const check = await verifyPass(edgeConfig(c.env), token);
  if (!check.ok) {
    throw fail(401, "invalid_token", "the pass is not valid or has expired", {}, { "www-authenticate": 'Bearer error="invalid_token"' });
  }
  c.set("pass", check.pass);
  c.set("passToken", token);
  await next();
};
