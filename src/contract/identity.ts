import { z } from "zod";
import { calendarDate } from "./dates.js";

/**
 * What the edge needs from an OpenID Connect id_token, beyond what jose checks (`iss`, `aud`, `exp`,
 * `iat`): the provider's stable subject and the standard `birthdate` claim, which alone picks the cohort.
 * The development provider (src/dev-idp) issues tokens of this shape; a national provider does too.
 */
export const ID_TOKEN_REQUIRED_CLAIMS = ["iss", "aud", "sub", "iat", "exp", "birthdate"] as const;

export const idTokenClaims = z.object({
  iss: z.string().min(1),
  sub: z.string().min(1).max(255),
  birthdate: calendarDate,
  nonce: z.string().optional(),
  phone_number: z.string().optional(),
  phone_number_verified: z.boolean().optional(),
});
export type IdTokenClaims = z.infer<typeof idTokenClaims>;
