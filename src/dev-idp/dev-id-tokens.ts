import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { z } from "zod";
import { isPlausibleBirthdate } from "./birthdate.js";
import { ClientProblem, readJson, sendJson } from "./http.js";
import type { IdTokenMinter } from "./id-tokens.js";
import { toE164 } from "./phone.js";
import type { CitizenRegistry } from "./registry.js";

/**
 * POST /dev/id-tokens: id_tokens for scripts (tests, benchmarks, `simulate --live`) without clicking
 * through the login page. It exists only in this development provider: a real national provider has no
 * such door, and the edge accepts its tokens only while its bindings point here. The tokens are exactly
 * what the browser flow yields (same key, claims and registry rule), minus the nonce.
 *
 * The door is shut to anyone without the mint secret (`Authorization: Bearer <DEV_IDP_MINT_SECRET>`, which
 * `npm start` keeps in .dev.vars): otherwise whoever reaches the provider's port could take any citizen's
 * place and booking. Even with it, a script never gets a token for a number a person has signed in with
 * through the login page, and the refusal is the same whatever birth date it named, so no answer tells
 * or confirms a citizen's birth date. A number only scripts have used keeps the first birth date they
 * gave it (409 for another), as the registry keeps a citizen's.
 */

export const MAX_CITIZENS_PER_CALL = 1000;
// 1,000 citizens of about 70 bytes each, with room for spacing.
const BODY_LIMIT_BYTES = 256 * 1024;

const request = z
  .object({
    citizens: z
      .array(
        z
          .object({
            phoneNumber: z.string().max(32).transform((s, ctx) => {
              const e164 = toE164(s);
              if (!e164) ctx.addIssue({ code: "custom", message: "not a Korean mobile number" });
              return e164 ?? z.NEVER;
            }),
            birthdate: z.string().refine((d) => isPlausibleBirthdate(d), "expected a real date as YYYY-MM-DD, from 1900 to today"),
          })
          .strict(),
      )
      .min(1, "list at least one citizen")
      .max(MAX_CITIZENS_PER_CALL, `at most ${MAX_CITIZENS_PER_CALL} citizens per call`),
  })
  .strict();

const digest = (text: string) => createHash("sha256").update(text).digest();

/** Whether `authorization` is `Bearer <secret>`, compared in constant time (hashed first, so lengths never differ). */
function carriesSecret(authorization: string | undefined, secret: string): boolean {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
  return m !== null && timingSafeEqual(digest(m[1]!), digest(secret));
}

export async function handleDevIdTokens(
  deps: { registry: CitizenRegistry; minter: IdTokenMinter; mintSecret: string },
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  if (req.method !== "POST") throw new ClientProblem(405, "method_not_allowed", "use POST", "POST");
  // Before the body is read: a stranger's upload costs nothing.
  if (!carriesSecret(req.headers.authorization, deps.mintSecret)) {
    const given = req.headers.authorization !== undefined;
    throw new ClientProblem(
      401,
      "invalid_token",
      "minting id_tokens needs Authorization: Bearer <DEV_IDP_MINT_SECRET> (npm start keeps it in .dev.vars)",
      undefined,
      `Bearer realm="dev-id-tokens"${given ? ', error="invalid_token"' : ""}`,
    );
  }
  const parsed = request.safeParse(await readJson(req, BODY_LIMIT_BYTES));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? `${issue.path.join(".")}: ` : "";
    throw new ClientProblem(400, "invalid_request", `${where}${issue?.message ?? "the request is not valid"}`);
  }
  const claimed = deps.registry.claimAll(parsed.data.citizens, "script");
  if (!claimed.ok && claimed.reason === "signed_in") {
    throw new ClientProblem(403, "sign_in_required", `${claimed.phoneNumber} has signed in through the login page: its id_tokens come only from there`);
  }
  if (!claimed.ok) {
    // The registry, like a national one, knows one birth date per number; the script asked for another.
    throw new ClientProblem(409, "birthdate_conflict", `${claimed.phoneNumber} is registered with another birth date`);
  }
  const now = Math.floor(Date.now() / 1000);
  const idTokens = await Promise.all(claimed.citizens.map((citizen) => deps.minter.mint(citizen, now)));
  sendJson(res, 200, { idTokens });
}
