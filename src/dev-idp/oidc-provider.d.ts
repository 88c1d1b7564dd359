/**
 * The part of oidc-provider 9's API the development provider uses. The package ships JavaScript without
 * types, and @types/oidc-provider trails the major versions, so the surface we rely on is written down here:
 * a change upstream shows up as a type error in src/dev-idp rather than as a runtime surprise.
 */
declare module "oidc-provider" {
  import type { IncomingMessage, ServerResponse } from "node:http";

  export interface InteractionPrompt {
    name: string;
    reasons: string[];
    details: Record<string, unknown>;
  }

  /** A pending login at the provider, bound to the browser by the `_interaction` cookie. */
  export interface Interaction {
    uid: string;
    prompt: InteractionPrompt;
    params: Record<string, unknown>;
    session?: { accountId?: string; uid?: string };
  }

  export interface Grant {
    addOIDCScope(scope: string): void;
    save(): Promise<string>;
  }

  export interface GrantConstructor {
    new (init: { clientId: string; accountId: string }): Grant;
    find(id: string): Promise<Grant | undefined>;
  }

  export interface Account {
    accountId: string;
    claims(use: string, scope: string): Promise<Record<string, unknown>> | Record<string, unknown>;
  }

  /** The slice of Koa's context (with the provider's `oidc` part) that our hooks read or write. */
  export interface KoaContextWithOIDC {
    oidc: {
      client?: { clientId: string };
      session?: { accountId?: string; grantIdFor(clientId: string): string | undefined };
      result?: { consent?: { grantId?: string } };
      provider: Provider;
    };
    type: string;
    body: unknown;
    status: number;
  }

  export interface ClientMetadata {
    client_id: string;
    client_secret: string;
    redirect_uris: string[];
    grant_types: string[];
    response_types: string[];
    token_endpoint_auth_method: string;
    id_token_signed_response_alg: string;
  }

  /** A store for the provider's records, one instance per model name (Session, Grant, AuthorizationCode…). */
  export interface Adapter {
    upsert(id: string, payload: Record<string, unknown>, expiresIn?: number): Promise<void>;
    find(id: string): Promise<Record<string, unknown> | undefined>;
    findByUid(uid: string): Promise<Record<string, unknown> | undefined>;
    findByUserCode(userCode: string): Promise<Record<string, unknown> | undefined>;
    consume(id: string): Promise<void>;
    destroy(id: string): Promise<void>;
    revokeByGrantId(grantId: string): Promise<void>;
  }

  export interface Configuration {
    adapter: (model: string) => Adapter;
    clients: ClientMetadata[];
    clientAuthMethods: string[];
    responseTypes: string[];
    pkce: { required: () => boolean };
    scopes: string[];
    claims: Record<string, string[] | null>;
    conformIdTokenClaims: boolean;
    findAccount(ctx: KoaContextWithOIDC, sub: string): Promise<Account | undefined>;
    loadExistingGrant(ctx: KoaContextWithOIDC): Promise<Grant | undefined>;
    interactions: { url(ctx: KoaContextWithOIDC, interaction: Interaction): string | Promise<string> };
    features: Record<string, { enabled: boolean }>;
    jwks: { keys: Record<string, unknown>[] };
    cookies: {
      keys: string[];
      long: { httpOnly: boolean; sameSite: "lax" | "strict" };
      short: { httpOnly: boolean; sameSite: "lax" | "strict" };
    };
    ttl: Record<string, number>;
    enabledJWA: Record<string, string[]>;
    renderError(ctx: KoaContextWithOIDC, out: Record<string, string>, error: unknown): Promise<void>;
  }

  export interface InteractionResult {
    login?: { accountId: string };
    consent?: { grantId?: string };
    error?: string;
    error_description?: string;
  }

  export default class Provider {
    constructor(issuer: string, configuration: Configuration);
    readonly issuer: string;
    Grant: GrantConstructor;
    /** The provider is a Koa application: this is its Node request listener. */
    callback(): (req: IncomingMessage, res: ServerResponse) => Promise<void>;
    interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<Interaction>;
    interactionFinished(
      req: IncomingMessage,
      res: ServerResponse,
      result: InteractionResult,
      options?: { mergeWithLastSubmission?: boolean },
    ): Promise<void>;
    on(event: string, listener: (...args: unknown[]) => void): this;
    /** Adds a Koa middleware in front of the provider's own routes. */
    use(middleware: (ctx: { status: number; body: unknown }, next: () => Promise<void>) => Promise<void>): void;
  }

  export const errors: {
    SessionNotFound: new (...args: unknown[]) => Error & { status: number };
  };
}
