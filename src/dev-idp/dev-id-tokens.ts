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

export async function handleDevIdTokens(deps: { registry: CitizenRegistry; minter: IdTokenMinter }, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== "POST") throw new ClientProblem(405, "method_not_allowed", "use POST", "POST");
  const parsed = request.safeParse(await readJson(req, BODY_LIMIT_BYTES));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? `${issue.path.join(".")}: ` : "";
    throw new ClientProblem(400, "invalid_request", `${where}${issue?.message ?? "the request is not valid"}`);
  }
  const claimed = deps.registry.claimAll(parsed.data.citizens);
  if (!claimed.ok) {
    // The registry, like a national one, knows one birth date per number; the script asked for another.
    throw new ClientProblem(409, "birthdate_conflict", `${claimed.conflictingPhoneNumber} is registered with another birth date`);
  }
  const now = Math.floor(Date.now() / 1000);
  const idTokens = await Promise.all(claimed.citizens.map((citizen) => deps.minter.mint(citizen, now)));
  sendJson(res, 200, { idTokens });
}
