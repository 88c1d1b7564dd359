import type { Context, MiddlewareHandler } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { jwtVerify } from "jose";
import { UNAVAILABLE_RETRY_AFTER_SECONDS } from "../../contract/errors.js";
import { errorResponse } from "../../http/errors.js";
import { edgeConfig, type OperatorAuthConfig } from "../config.js";
import { keySet, keySetFailed } from "../identity/id-token.js";
import { operatorLogins } from "./operator-logins.js";
import { isOperatorSession, mintOperatorSession, OPERATOR_COOKIE, OPERATOR_SESSION_TTL_SECONDS, readLoginCode } from "./operator-tokens.js";

/**
 * The gate in front of the operators' console (/ops, its files and /api/ops/*). Deployed, Cloudflare
 * Access stands in front of the console and sends its signed JWT in `Cf-Access-Jwt-Assertion`; the edge
 * verifies it itself (a request that reached the Worker around Access must not pass). On a machine without
 * Access, the operator is whoever opened the one-time link `npm start` printed (src/edge/operators/operator-tokens.ts).
 * With Access configured the local login is refused, so a leaked OPERATOR_SECRET cannot open a deployment.
 */

export { OPERATOR_COOKIE };
export const ACCESS_HEADER = "cf-access-jwt-assertion";
/** Access signs its application tokens with RS256 only. */
const ACCESS_ALGORITHMS = ["RS256"];
/** Access's clock and ours differ a little; a token issued "now" must not be refused as from the future. */
const CLOCK_TOLERANCE_SECONDS = 10;
const MAX_ACCESS_JWT_LENGTH = 8_192;

type OperatorCheck = "operator" | "refused" | "unavailable";

async function verifyAccessJwt(access: NonNullable<OperatorAuthConfig["access"]>, token: string): Promise<OperatorCheck> {
  if (token.length > MAX_ACCESS_JWT_LENGTH) return "refused";
  try {
    await jwtVerify(token, keySet(access.keys), {
      algorithms: ACCESS_ALGORITHMS,
      issuer: access.issuer,
      audience: access.audience,
      requiredClaims: ["exp", "iat"],
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
    });
    return "operator";
  } catch (err) {
    // Access's keys unreachable or broken: the operator should retry, not log in again.
    return keySetFailed(access.keys, err) ? "unavailable" : "refused";
  }
}

/** Whether this request comes from an operator, by the one credential the configuration accepts. */
async function checkOperator(c: Context<{ Bindings: Env }>): Promise<OperatorCheck> {
  const { access, localSecret } = edgeConfig(c.env).operators;
  if (access) {
    const token = c.req.header(ACCESS_HEADER);
    return token ? verifyAccessJwt(access, token) : "refused";
  }
  const session = getCookie(c, OPERATOR_COOKIE);
  if (!localSecret || !session) return "refused";
  return (await isOperatorSession(localSecret, session)) ? "operator" : "refused";
}

/** How to get in, for the refusal: the same words for the API and the page. */
function howToSignIn(config: OperatorAuthConfig): string {
  if (config.access) return "operators only: open the console through Cloudflare Access";
  if (config.localSecret) return "operators only: open the one-time operator link that `npm start` printed";
  return "operators only, and no operator credential is configured (set ACCESS_TEAM_DOMAIN and ACCESS_AUD, or OPERATOR_SECRET)";
}

/**
 * Lets operators through. Everyone else gets a 401 that says how to sign in and nothing about the line:
 * the one JSON error shape for the API, a short page for a browser.
 */
export function requireOperator(answer: "api" | "page"): MiddlewareHandler<{ Bindings: Env }> {
  return async (c, next) => {
    // The login link is how an operator gets a credential; it checks its code itself.
    if (c.req.path === LOGIN_PATH) return next();
    const check = await checkOperator(c);
    if (check === "operator") return next();
    if (check === "unavailable") {
      return errorResponse(503, "unavailable", "Cloudflare Access's keys could not be fetched; please retry shortly", { retryAfterSeconds: UNAVAILABLE_RETRY_AFTER_SECONDS });
    }
    const message = howToSignIn(edgeConfig(c.env).operators);
    if (answer === "api") return errorResponse(401, "operator_required", message);
    return new Response(signInPage(message), {
      status: 401,
      headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store", "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'" },
    });
  };
}

function signInPage(message: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Operators only</title><style>body{font:16px/1.5 system-ui,sans-serif;margin:2rem;max-width:40rem;color:#1f2328}</style></head>
<body><h1>Operators only</h1><p>${message.replace(/^operators only: /, "To watch the lines, ").replace(/`/g, "")}.</p></body></html>`;
}

export const LOGIN_PATH = "/ops/login";

/**
 * GET /ops/login?code=…: spends a one-time code from `npm start` and starts an operator session. Refused
 * (404, as if absent) where Cloudflare Access guards the console, and 401 for a code that is not ours, has
 * expired or was spent already.
 */
export async function operatorLogin(c: Context<{ Bindings: Env }>): Promise<Response> {
  const { access, localSecret } = edgeConfig(c.env).operators;
  if (access || !localSecret) {
    return errorResponse(404, "not_found", access ? "operators sign in through Cloudflare Access here" : "no local operator login is configured (OPERATOR_SECRET)");
  }
  const code = await readLoginCode(localSecret, c.req.query("code") ?? "");
  if (!code) return errorResponse(401, "operator_required", "this operator link is not valid or has expired: restart `npm start` for a new one");
  if (!(await operatorLogins(c.env).spend(code.id, code.expiresAt))) {
    return errorResponse(401, "operator_required", "this operator link was used already: each link works once; restart `npm start` for a new one");
  }
  // Strict: the console's cookie never rides along on a request another site starts.
  setCookie(c, OPERATOR_COOKIE, await mintOperatorSession(localSecret), {
    httpOnly: true,
    secure: true,
    sameSite: "Strict",
    path: "/",
    maxAge: OPERATOR_SESSION_TTL_SECONDS,
  });
  c.header("cache-control", "no-store");
  // The code is spent, but no page should carry it on in a Referer.
  c.header("referrer-policy", "no-referrer");
  return c.redirect("/ops", 303);
}
