import Provider, { type Grant, type KoaContextWithOIDC } from "oidc-provider";
import type { IdpConfig } from "./config.js";
import { citizenClaims, ID_TOKEN_TTL_SECONDS, SCOPE_CLAIMS } from "./id-tokens.js";
import { errorPage, pageLang } from "./pages.js";
import { ProviderStore } from "./provider-store.js";
import type { CitizenRegistry } from "./registry.js";
import type { IdpSecrets } from "./state.js";

/**
 * The OpenID Provider proper: panva's certified oidc-provider, configured for one confidential client
 * (the edge) and the Authorization Code flow only. Protocol handling (PKCE, state, nonce, code exchange,
 * token signing, discovery, JWKS) is entirely the library's; this file only says who the citizen is
 * (the registry) and what the id_token carries.
 */

const SCOPES = Object.keys(SCOPE_CLAIMS).join(" ");

export function createProvider(config: IdpConfig, secrets: IdpSecrets, registry: CitizenRegistry): Provider {
  return new Provider(config.issuer, {
    adapter: new ProviderStore().adapter,
    clients: [
      {
        client_id: config.clientId,
        client_secret: config.clientSecret,
        redirect_uris: config.redirectUris,
        grant_types: ["authorization_code"],
        response_types: ["code"],
        token_endpoint_auth_method: "client_secret_basic",
        id_token_signed_response_alg: "RS256",
      },
    ],
    // The edge authenticates with HTTP Basic; no other method (and no public client) is offered.
    clientAuthMethods: ["client_secret_basic"],
    responseTypes: ["code"],
    // PKCE (S256, the only method oidc-provider 9 implements) on every authorization request, even
    // though the edge is a confidential client: it binds the code to the browser's login transaction.
    pkce: { required: () => true },
    scopes: ["openid", "profile", "phone"],
    claims: { acr: null, auth_time: null, iss: null, sid: null, ...copyClaims() },
    // The edge reads birthdate and phone_number from the id_token itself; it never calls userinfo.
    conformIdTokenClaims: false,
    async findAccount(_ctx, sub) {
      const citizen = registry.findBySub(sub);
      if (!citizen) return undefined;
      return { accountId: sub, claims: () => citizenClaims(citizen) };
    },
    // The edge is this provider's own first-party client: citizens are never asked to consent to it.
    async loadExistingGrant(ctx) {
      const { client, session } = ctx.oidc;
      if (!client || !session?.accountId) return undefined;
      const grantId = ctx.oidc.result?.consent?.grantId ?? session.grantIdFor(client.clientId);
      const existing = grantId ? await ctx.oidc.provider.Grant.find(grantId) : undefined;
      if (existing) return existing;
      const grant: Grant = new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId });
      grant.addOIDCScope(SCOPES);
      await grant.save();
      return grant;
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    // The library's built-in login pages accept any username; ours ask for the phone and the SMS code.
    features: { devInteractions: { enabled: false } },
    jwks: { keys: [secrets.signingKey] },
    cookies: {
      keys: secrets.cookieKeys,
      long: { httpOnly: true, sameSite: "lax" },
      short: { httpOnly: true, sameSite: "lax" },
    },
    ttl: {
      AuthorizationCode: 60,
      AccessToken: 600,
      IdToken: ID_TOKEN_TTL_SECONDS,
      // A login left open longer than this starts over; the SMS code itself lives 5 minutes.
      Interaction: 15 * 60,
      // A citizen who signed in is not asked again for an hour (a second tab, a refresh of the login).
      Session: 60 * 60,
      Grant: 60 * 60,
    },
    enabledJWA: { idTokenSigningAlgValues: ["RS256"] },
    async renderError(ctx: KoaContextWithOIDC, out) {
      // The library's own page pulls a web font from the internet; ours is self-contained and bilingual.
      ctx.type = "html";
      ctx.body = errorPage({
        lang: pageLang(undefined),
        message: { ko: "로그인 요청이 올바르지 않거나 만료되었습니다.", en: "The sign-in request is not valid or has expired." },
        detail: [out.error, out.error_description].filter(Boolean).join(": "),
      });
    },
  });
}

function copyClaims(): Record<string, string[]> {
  return Object.fromEntries(Object.entries(SCOPE_CLAIMS).map(([scope, claims]) => [scope, [...claims]]));
}
