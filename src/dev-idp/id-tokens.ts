import { importJWK, SignJWT } from "jose";
import type { Citizen } from "./registry.js";
import type { RsaPrivateJwk } from "./state.js";

/**
 * What an id_token of this provider says, whichever way it was issued (the browser flow through
 * oidc-provider, or POST /dev/id-tokens for scripts): the same claims, the same lifetime, the same key.
 */

/** One hour, as the edge's default IDP_MAX_AGE_SECONDS: a token is used right after it is issued. */
export const ID_TOKEN_TTL_SECONDS = 3600;

/** The scopes the edge asks for and the claims each releases (OIDC Core 5.4). */
export const SCOPE_CLAIMS = {
  openid: ["sub"],
  profile: ["birthdate"],
  phone: ["phone_number", "phone_number_verified"],
} as const;

/** The user claims of a citizen's id_token; `phone_number_verified` is true because the SMS code proved it. */
export function citizenClaims(citizen: Citizen): { sub: string; birthdate: string; phone_number: string; phone_number_verified: true } {
  return { sub: citizen.sub, birthdate: citizen.birthdate, phone_number: citizen.phoneNumber, phone_number_verified: true };
}

/** Signs id_tokens outside the browser flow, with the key oidc-provider publishes at /jwks. */
export class IdTokenMinter {
  readonly #key: Promise<CryptoKey | Uint8Array>;
  readonly #kid: string;

  constructor(
    signingKey: RsaPrivateJwk,
    readonly issuer: string,
    readonly audience: string,
  ) {
    this.#kid = signingKey.kid;
    this.#key = importJWK(signingKey, "RS256");
  }

  /** An id_token for a citizen the registry knows, issued now. No nonce: no authorization request asked. */
  async mint(citizen: Citizen, now = Math.floor(Date.now() / 1000)): Promise<string> {
    return new SignJWT(citizenClaims(citizen))
      .setProtectedHeader({ alg: "RS256", kid: this.#kid })
      .setIssuer(this.issuer)
      .setAudience(this.audience)
      .setIssuedAt(now)
      .setExpirationTime(now + ID_TOKEN_TTL_SECONDS)
      .sign(await this.#key);
  }
}
