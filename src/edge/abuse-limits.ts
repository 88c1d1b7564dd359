import type { Context } from "hono";
import { fail } from "../http/errors.js";

/**
 * Abuse limits, on the Workers rate-limiting bindings (wrangler.toml `[[ratelimits]]`; workerd simulates
 * them locally). Each is keyed on something a client cannot multiply at will: a citizen key (one per
 * person the provider vouched for: joins, and booking access however many times they sign in), a
 * ticket, a pass (its jti: one per admitted ticket), and, for failed identity checks only, the client
 * address.
 * Over a limit the client gets 429 `rate_limited` and its place is untouched: a limit never writes.
 */

/** The limits and how long a client over each should wait (the period of the binding's window). */
export const LIMITS = {
  join: { binding: "JOIN_LIMIT", retryAfterSeconds: 60, what: "too many joins for this citizen" },
  poll: { binding: "POLL_LIMIT", retryAfterSeconds: 10, what: "too many status requests for this ticket" },
  identityFailure: { binding: "IDENTITY_FAILURE_LIMIT", retryAfterSeconds: 60, what: "too many failed sign-ins from this address" },
  pass: { binding: "PASS_LIMIT", retryAfterSeconds: 10, what: "too many booking requests with this pass" },
  bookingAccess: { binding: "BOOKING_ACCESS_LIMIT", retryAfterSeconds: 10, what: "too many requests about your booking" },
} as const satisfies Record<string, { binding: keyof Env; retryAfterSeconds: number; what: string }>;
export type LimitName = keyof typeof LIMITS;

/**
 * Counts one use of `limit` for `key`; throws 429 when over. A limiter that fails (a runtime without the
 * binding, an outage) lets the request through: the limits protect the line, they must not close it.
 */
export async function enforceLimit(env: Env, name: LimitName, key: string): Promise<void> {
  const limit = LIMITS[name];
  let allowed = true;
  try {
    allowed = (await env[limit.binding].limit({ key })).success;
  } catch (err) {
    console.error(`rate limiter ${limit.binding} failed; letting the request through:`, err);
  }
  if (!allowed) {
    throw fail(429, "rate_limited", `${limit.what}; your place is kept, try again in ${limit.retryAfterSeconds} s`, {
      retryAfterSeconds: limit.retryAfterSeconds,
    });
  }
}

/**
 * The client's address as Cloudflare reports it. Locally (workerd, tests) the header may be absent; all
 * such clients then share one key, which only ever limits failures.
 */
export function clientAddress(c: Context): string {
  return addressIn(c.req.raw.headers);
}

/** `clientAddress` from a request's headers, for a route answered without a Hono context. */
export function addressIn(headers: Headers): string {
  return headers.get("cf-connecting-ip") ?? "unknown";
}
