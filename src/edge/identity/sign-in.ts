import { EncryptJWT, jwtDecrypt } from "jose";
import * as oauth from "oauth4webapi";
import { z } from "zod";
import { derivedKey } from "./citizen-secret.js";
import type { IdentityProviderConfig } from "../config.js";

/**
 * The browser's way in: the OpenID Connect Authorization Code flow with PKCE, `state` and `nonce`, run
 * by the edge as a confidential client through oauth4webapi (no hand-written protocol code). The code is
 * exchanged server-side, so no token ever reaches the page or a URL it keeps.
 */

/** What the citizen is asked to share: `openid` (who), `profile` (birthdate), `phone` (the verified number). */
export const SCOPES = "openid profile phone";
/** A sign-in must come back within this; the provider's own login takes a minute or two. */
export const SIGN_IN_WINDOW_SECONDS = 600;

/**
 * A sign-in in progress, sealed into a cookie only the edge can read. `purpose`: to join the line, or to
 * reach a booking already made (booking access) without joining it.
 */
const signInTransaction = z.object({
  state: z.string(),
  nonce: z.string(),
  verifier: z.string(),
  redirectUri: z.string(),
  purpose: z.enum(["line", "booking"]).default("line"),
});
export type SignInTransaction = z.infer<typeof signInTransaction>;

/** Why a sign-in did not produce an id_token. */
export class SignInFailure extends Error {
  constructor(
    readonly kind: "cancelled" | "refused" | "unavailable",
    message: string,
  ) {
    super(message);
  }
}

// Plain http is allowed only where the configuration already allowed it: a provider on this machine.
function requestOptions(idp: IdentityProviderConfig): { [oauth.allowInsecureRequests]?: boolean } {
  return new URL(idp.issuer).protocol === "http:" ? { [oauth.allowInsecureRequests]: true } : {};
}

// The provider's metadata, fetched once per isolate; a failed fetch is forgotten so the next sign-in retries.
const servers = new Map<string, Promise<oauth.AuthorizationServer>>();

async function authorizationServer(idp: IdentityProviderConfig): Promise<oauth.AuthorizationServer> {
  let pending = servers.get(idp.issuer);
  if (!pending) {
    const issuer = new URL(idp.issuer);
    pending = oauth
      .discoveryRequest(issuer, { ...requestOptions(idp), signal: AbortSignal.timeout(5_000) })
      .then((res) => oauth.processDiscoveryResponse(issuer, res));
    servers.set(idp.issuer, pending);
    pending.catch(() => servers.delete(idp.issuer));
  }
  try {
    return await pending;
  } catch (err) {
    console.error("identity provider discovery failed:", err instanceof Error ? err.message : err);
    throw new SignInFailure("unavailable", "the identity provider cannot be reached");
  }
}

/** Starts a sign-in: where to send the browser, and the transaction to keep until it comes back. */
export async function startSignIn(idp: IdentityProviderConfig, redirectUri: string, lang: string | undefined, purpose: SignInTransaction["purpose"] = "line") {
  const as = await authorizationServer(idp);
  if (!as.authorization_endpoint) throw new SignInFailure("unavailable", "the identity provider has no authorization endpoint");
  const transaction: SignInTransaction = {
    state: oauth.generateRandomState(),
    nonce: oauth.generateRandomNonce(),
    verifier: oauth.generateRandomCodeVerifier(),
    redirectUri,
    purpose,
  };
  const url = new URL(as.authorization_endpoint);
  const params: Record<string, string> = {
    client_id: idp.clientId,
    redirect_uri: redirectUri,
    response_type: "code",
    scope: SCOPES,
    state: transaction.state,
    nonce: transaction.nonce,
    code_challenge: await oauth.calculatePKCECodeChallenge(transaction.verifier),
    code_challenge_method: "S256",
  };
  if (lang) params.ui_locales = lang;
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return { authorizationUrl: url, transaction };
}

/**
 * Finishes a sign-in: checks the callback against the transaction (`state`, `iss`), exchanges the code
 * with the client secret and the PKCE verifier, and returns the id_token, whose signature and claims the
 * caller then verifies like any other (the nonce included).
 */
export async function finishSignIn(idp: IdentityProviderConfig, transaction: SignInTransaction, callback: URL): Promise<string> {
  const as = await authorizationServer(idp);
  const client: oauth.Client = { client_id: idp.clientId };
  let params: URLSearchParams;
  try {
    params = oauth.validateAuthResponse(as, client, callback.searchParams, transaction.state);
  } catch (err) {
    if (err instanceof oauth.AuthorizationResponseError && (err.error === "access_denied" || err.error === "login_required")) {
      throw new SignInFailure("cancelled", "the sign-in was cancelled at the identity provider");
    }
    throw new SignInFailure("refused", "the sign-in's answer does not match the one we started");
  }
  let response: Response;
  try {
    response = await oauth.authorizationCodeGrantRequest(as, client, oauth.ClientSecretBasic(idp.clientSecret), params, transaction.redirectUri, transaction.verifier, {
      ...requestOptions(idp),
      signal: AbortSignal.timeout(5_000),
    });
  } catch (err) {
    console.error("identity provider token request failed:", err instanceof Error ? err.message : err);
    throw new SignInFailure("unavailable", "the identity provider cannot be reached");
  }
  try {
    const tokens = await oauth.processAuthorizationCodeResponse(as, client, response, { expectedNonce: transaction.nonce, requireIdToken: true });
    return tokens.id_token!;
  } catch (err) {
    // A code used twice, expired or made for another client is refused by the provider (400
    // invalid_grant); a provider in trouble answers 5xx.
    if (err instanceof oauth.ResponseBodyError && err.status >= 500) throw new SignInFailure("unavailable", "the identity provider is in trouble");
    throw new SignInFailure("refused", "the identity provider did not confirm this sign-in");
  }
}

/** The key that encrypts a sign-in in progress (state, nonce, PKCE verifier) into its cookie. */
function loginStateKey(secret: string): Promise<Uint8Array> {
  return derivedKey(secret, "loginStateKey");
}

/** Seals a transaction for its cookie: encrypted and authenticated (A256GCM), so it can be neither read nor forged. */
export async function sealTransaction(secret: string, transaction: SignInTransaction): Promise<string> {
  return new EncryptJWT({ ...transaction })
    .setProtectedHeader({ alg: "dir", enc: "A256GCM" })
    .setIssuedAt()
    .setExpirationTime(`${SIGN_IN_WINDOW_SECONDS}s`)
    .encrypt(await loginStateKey(secret));
}

/** Opens a sealed transaction; undefined when it is not ours, tampered with, or too old. */
export async function openTransaction(secret: string, sealed: string): Promise<SignInTransaction | undefined> {
  if (sealed.length > 4096) return undefined;
  try {
    const { payload } = await jwtDecrypt(sealed, await loginStateKey(secret), { keyManagementAlgorithms: ["dir"], contentEncryptionAlgorithms: ["A256GCM"] });
    const parsed = signInTransaction.safeParse(payload);
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
