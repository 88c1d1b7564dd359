import { Hono, type Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { UNAVAILABLE_RETRY_AFTER_SECONDS } from "../../contract/errors.js";
import { loginQuery } from "../../contract/sign-in.js";
import { ApiError, fail } from "../../http/errors.js";
import { edgeConfig } from "../config.js";
import { joinQueue, verifiedCitizen } from "../queue/join.js";
import { clientAddress, enforceLimit } from "../abuse-limits.js";
import { finishSignIn, openTransaction, sealTransaction, SIGN_IN_WINDOW_SECONDS, SignInFailure, startSignIn, type SignInTransaction } from "../identity/sign-in.js";
import { grantBookingAccess } from "../tokens/booking-access.js";

/**
 * `GET /auth/login` → the identity provider → `GET /auth/callback` → back to the page with a place (or,
 * from `GET /auth/booking-access`, with booking access and no place).
 * The callback verifies the provider's id_token exactly as an app's join does, joins the line, sets the
 * ticket cookie and redirects to a URL that carries no code, token or identity.
 */
export const authRoutes = new Hono<{ Bindings: Env }>();

const CALLBACK_PATH = "/auth/callback";

/**
 * One cookie per sign-in in progress, named after its `state`: two tabs signing in at once each keep
 * their own, and the callback finds the one its `state` names. Only that path ever receives it.
 */
function transactionCookie(state: string): string {
  return `wr_signin_${state.replace(/[^A-Za-z0-9_-]/g, "").slice(0, 16)}`;
}

/** A browser navigating (rather than a script) is sent back to the page with the outcome, not shown JSON. */
function isPageNavigation(c: Context): boolean {
  return (c.req.header("accept") ?? "").includes("text/html");
}

/** Where the page shows what became of a sign-in; the reason names no person and no token. */
function pageWithOutcome(failure: unknown): string {
  if (failure instanceof SignInFailure && failure.kind === "cancelled") return "/?signin=cancelled";
  const err = failure instanceof SignInFailure ? asApiError(failure) : failure;
  if (err instanceof ApiError) {
    switch (err.code) {
      case "cohort_not_open":
      case "place_given_up":
        return `/?signin=${err.code}${err.extras.cohort ? `&cohort=${encodeURIComponent(err.extras.cohort)}` : ""}`;
      case "invalid_identity":
      case "not_eligible":
      case "rate_limited":
      case "unavailable":
        return `/?signin=${err.code}`;
    }
  }
  return "/?signin=failed";
}

function noStore(c: Context): void {
  c.header("cache-control", "no-store");
  // The provider's pages and ours must not learn each other's URLs (the callback's carries a code).
  c.header("referrer-policy", "no-referrer");
}

/** Turns a sign-in failure into the one error shape (for scripts; browsers get a redirect instead). */
function asApiError(err: SignInFailure): ApiError {
  if (err.kind === "unavailable") return fail(503, "unavailable", "the identity provider cannot be reached; please try again shortly", { retryAfterSeconds: UNAVAILABLE_RETRY_AFTER_SECONDS });
  return fail(401, "invalid_identity", err.kind === "cancelled" ? "the sign-in was cancelled" : err.message);
}

/**
 * `GET /auth/login` signs in to join the line; `GET /auth/booking-access` signs in to reach a booking
 * already made (to read, change or cancel it) without joining the line. Both go through the one provider
 * and callback; the sealed transaction remembers which.
 */
async function signIn(c: Context<{ Bindings: Env }>, purpose: SignInTransaction["purpose"]) {
  const config = edgeConfig(c.env);
  noStore(c);
  const query = loginQuery.safeParse(c.req.query());
  if (!query.success) throw fail(400, "invalid_request", "lang must be ko or en");
  const redirectUri = `${new URL(c.req.url).origin}${CALLBACK_PATH}`;
  let started;
  try {
    started = await startSignIn(config.identity, redirectUri, query.data.lang, purpose);
  } catch (err) {
    if (!(err instanceof SignInFailure)) throw err;
    if (isPageNavigation(c)) return c.redirect("/?signin=unavailable", 303);
    throw asApiError(err);
  }
  setCookie(c, transactionCookie(started.transaction.state), await sealTransaction(config.citizenKeySecret, started.transaction), {
    httpOnly: true,
    secure: true,
    // Lax: the provider's redirect back is a top-level GET navigation, which Lax cookies accompany.
    sameSite: "Lax",
    path: CALLBACK_PATH,
    maxAge: SIGN_IN_WINDOW_SECONDS,
  });
  return c.redirect(started.authorizationUrl.href, 302);
}

authRoutes.get("/login", (c) => signIn(c, "line"));
authRoutes.get("/booking-access", (c) => signIn(c, "booking"));

authRoutes.get("/callback", async (c) => {
  const config = edgeConfig(c.env);
  noStore(c);
  try {
    const callback = new URL(c.req.url);
    const state = callback.searchParams.get("state") ?? "";
    const cookie = transactionCookie(state);
    const sealed = state ? getCookie(c, cookie) : undefined;
    // A transaction is good for one callback: a replayed or forged one finds nothing.
    if (sealed !== undefined) deleteCookie(c, cookie, { path: CALLBACK_PATH, secure: true });
    const transaction = sealed === undefined ? undefined : await openTransaction(config.citizenKeySecret, sealed);
    if (!transaction || transaction.state !== state) {
      await enforceLimit(c.env, "identityFailure", clientAddress(c));
      throw fail(401, "invalid_identity", "this sign-in was not started in this browser, has expired or was already used; sign in again");
    }
    let idToken: string;
    try {
      idToken = await finishSignIn(config.identity, transaction, callback);
    } catch (err) {
      if (err instanceof SignInFailure && err.kind === "refused") await enforceLimit(c.env, "identityFailure", clientAddress(c));
      throw err;
    }
    const citizen = await verifiedCitizen(c.env, c.req.raw.headers, config, idToken, { nonce: transaction.nonce });
    if (transaction.purpose === "booking") {
      await grantBookingAccess(c, config, citizen);
      return c.redirect("/?signin=booking_access", 303);
    }
    const joined = await joinQueue(c.env, c.req.raw.headers, config, citizen);
    for (const cookie of joined.cookies) c.header("set-cookie", cookie, { append: true });
    return c.redirect(joined.answer.previousPlaceExpired ? "/?signin=rejoined" : "/", 303);
  } catch (err) {
    if (isPageNavigation(c)) {
      if (!(err instanceof ApiError || err instanceof SignInFailure)) console.error("sign-in callback failed:", err);
      return c.redirect(pageWithOutcome(err), 303);
    }
    throw err instanceof SignInFailure ? asApiError(err) : err;
  }
});
