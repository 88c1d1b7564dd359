import { z } from "zod";
import type { AdmissionPolicy } from "../contract/ops.js";
import { passPublicJwk } from "../contract/pass.js";
import { jsonBinding, jwksDocument, parseBindings, type JwksDocument } from "../http/bindings.js";
import { isLoopbackHost } from "../http/loopback.js";
import type { VapidKeys } from "./push/web-push.js";

export { ConfigError } from "../http/bindings.js";

/**
 * The edge's configuration, parsed once per set of bindings. Operators change behaviour only through
 * these bindings (wrangler.toml vars and secrets, or the environment of `npm start`), so a bad value must
 * stop the system with the binding's name rather than let it run on a silent default.
 */

const positiveInt = (name: string) =>
  z.string({ error: `${name} is required` }).trim().regex(/^\d+$/, `${name} must be a whole number`).transform(Number)
    .pipe(z.number().int().positive(`${name} must be at least 1`));

const positiveNumber = (name: string) =>
  z.string({ error: `${name} is required` }).trim().regex(/^\d+(\.\d+)?$/, `${name} must be a number`).transform(Number)
    .pipe(z.number().positive(`${name} must be above 0`));

/** A share strictly between 0 and 1, written as a decimal (0.01 for one percent). */
const share = (name: string) =>
  z.string({ error: `${name} is required` }).trim().regex(/^(0|1)?(\.\d+)?$/, `${name} must be a share between 0 and 1, like 0.01`).transform(Number)
    .pipe(z.number().gt(0, `${name} must be above 0`).lt(1, `${name} must be below 1`));

const flag = (name: string) =>
  z.string({ error: `${name} is required` }).trim().toLowerCase()
    .pipe(z.enum(["true", "false", "1", "0", "yes", "no"], { error: `${name} must be true or false` }))
    .transform((v) => v === "true" || v === "1" || v === "yes");

export const cohortConfig = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, "a cohort id is 1-32 letters, digits, - or _"),
    label: z.object({ ko: z.string().min(1), en: z.string().min(1) }),
    birthYears: z.tuple([z.number().int().min(1900), z.number().int().max(2100)]),
    opensAt: z.iso.datetime({ offset: true }),
    /** When the pre-queue starts: joins from then until `opensAt` wait unplaced, then are ordered by the draw. */
    prequeueOpensAt: z.iso.datetime({ offset: true }).optional(),
    // Operators' overrides of the global ADMIT_PER_MINUTE, MAX_ACTIVE and PAUSED for this cohort alone.
    admitPerMinute: z.number().positive("a cohort's admitPerMinute must be above 0").optional(),
    maxActive: z.number().int("a cohort's maxActive must be a whole number").positive("a cohort's maxActive must be at least 1").optional(),
    paused: z.boolean().optional(),
  })
  .refine((c) => c.birthYears[0] <= c.birthYears[1], "birthYears must be [from, to] with from <= to")
  // A pre-queue that starts at or after the opening would never hold anyone; say so rather than ignore it.
  .superRefine((c, ctx) => {
    if (c.prequeueOpensAt !== undefined && !(Date.parse(c.prequeueOpensAt) < Date.parse(c.opensAt))) {
      ctx.addIssue({ code: "custom", message: `cohort ${c.id}: prequeueOpensAt must be before opensAt`, path: ["prequeueOpensAt"] });
    }
  });
export type CohortConfig = z.infer<typeof cohortConfig>;

const cohorts = jsonBinding("COHORTS is required", "COHORTS must be a JSON list")
  .pipe(z.array(cohortConfig).min(1, "COHORTS must list at least one cohort"))
  .refine((list) => new Set(list.map((c) => c.id)).size === list.length, "COHORTS has a repeated id")
  .refine((list) => {
    // Overlapping birth-year ranges would make the cohort of a citizen depend on list order.
    const sorted = [...list].sort((a, b) => a.birthYears[0] - b.birthYears[0]);
    return sorted.every((c, i) => i === 0 || sorted[i - 1]!.birthYears[1] < c.birthYears[0]);
  }, "COHORTS birth-year ranges overlap");

/** A private ES256 key as a JWK: the published public key's fields plus `d`; `kid` names it in pass headers so keys can rotate. */
export const signingJwk = passPublicJwk.omit({ alg: true, use: true }).extend({
  d: z.string().min(1),
  kid: z.string().min(1).max(64),
});
export type SigningJwk = z.infer<typeof signingJwk>;

const signingKeys = jsonBinding("PASS_SIGNING_KEYS is required (a secret)", "PASS_SIGNING_KEYS must be a JSON list of private JWKs")
  .pipe(z.array(signingJwk, { error: "PASS_SIGNING_KEYS must list private ES256 JWKs with kid" }).min(1, "PASS_SIGNING_KEYS must hold at least one key"))
  .refine((keys) => new Set(keys.map((k) => k.kid)).size === keys.length, "PASS_SIGNING_KEYS has a repeated kid");

const idpJwks = jsonBinding("IDP_JWKS is not set", "IDP_JWKS must be a JSON JWKS").pipe(
  z.object(jwksDocument.shape, { error: 'IDP_JWKS must be a JWKS: {"keys":[{"kty":...}]}' }),
);

// An empty binding (`IDP_JWKS_URL = ""`) means "not set", so a deployment can switch from one key source
// to the other by clearing a var rather than deleting it.
const unsetIfEmpty = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (v === "" ? undefined : v), schema.optional());

/**
 * The Cloudflare Access team whose login guards the operators' console: `<team>.cloudflareaccess.com`,
 * with or without `https://`. It is the issuer of the Access JWTs and publishes their keys.
 */
const accessTeamDomain = z
  .string()
  .trim()
  .transform((v) => v.replace(/^https:\/\//, "").replace(/\/+$/, ""))
  .pipe(z.string().regex(/^[a-z0-9-]+(\.[a-z0-9-]+)+$/i, "ACCESS_TEAM_DOMAIN must be a host name such as myteam.cloudflareaccess.com"));
const accessJwks = jsonBinding("ACCESS_JWKS is not set", "ACCESS_JWKS must be a JSON JWKS").pipe(
  z.object(jwksDocument.shape, { error: 'ACCESS_JWKS must be a JWKS: {"keys":[{"kty":...}]}' }),
);

/** The provider's address: https, except on this machine, where the development provider speaks http. */
const idpUrl = (name: string) =>
  z.url({ error: `${name} must be an http(s) URL` }).refine((u) => {
    const url = new URL(u);
    return url.protocol === "https:" || (url.protocol === "http:" && isLoopbackHost(url.hostname));
  }, `${name} must be https (plain http only for a provider on this machine)`);

/** base64url (no padding) of exactly `bytes` bytes, as the Web Push keys are written. */
const base64urlOf = (name: string, bytes: number, what: string) =>
  z.string().trim().regex(new RegExp(`^[A-Za-z0-9_-]{${Math.ceil((bytes * 4) / 3)}}$`), `${name} must be ${what}, base64url without padding`);

/** Where a push service can reach the operator (RFC 8292): a `mailto:` address or an https page. */
const vapidSubject = z
  .string()
  .trim()
  .regex(/^(mailto:[^@\s]+@[^@\s]+|https:\/\/\S+)$/, "VAPID_SUBJECT must be a mailto: address or an https: URL");

export const edgeBindings = z
  .object({
    ADMIT_PER_MINUTE: positiveNumber("ADMIT_PER_MINUTE"),
    MAX_ACTIVE: positiveInt("MAX_ACTIVE"),
    SHARDS: positiveInt("SHARDS").pipe(z.number().max(1024, "SHARDS must be at most 1024")),
    PASS_TTL_SECONDS: positiveInt("PASS_TTL_SECONDS"),
    CLAIM_WINDOW_SECONDS: positiveInt("CLAIM_WINDOW_SECONDS"),
    // The page near the front asks every few seconds, and at least every 15 s
    // (src/edge/queue/wait-estimate.ts), so a window under 10 s would pass over people who are there.
    PRESENCE_SECONDS: positiveInt("PRESENCE_SECONDS").pipe(z.number().min(10, "PRESENCE_SECONDS must be at least 10")),
    RETURN_WINDOW_SECONDS: positiveInt("RETURN_WINDOW_SECONDS"),
    PASS_IDLE_SECONDS: positiveInt("PASS_IDLE_SECONDS"),
    PAUSED: flag("PAUSED"),
    PASS_ISSUER: z.string({ error: "PASS_ISSUER is required" }).min(1, "PASS_ISSUER is required"),
    PASS_AUDIENCE: z.string({ error: "PASS_AUDIENCE is required" }).min(1, "PASS_AUDIENCE is required"),
    ORIGIN_URL: z.url({ error: "ORIGIN_URL must be an http(s) URL" }),
    COHORTS: cohorts,
    PASS_SIGNING_KEYS: signingKeys,
    CITIZEN_KEY_SECRET: z
      .string({ error: "CITIZEN_KEY_SECRET is required (a secret)" })
      .min(32, "CITIZEN_KEY_SECRET must be at least 32 characters"),
    DRAW_SECRET: z
      .string({ error: "DRAW_SECRET is required (a secret)" })
      .min(32, "DRAW_SECRET must be at least 32 characters"),
    IDP_ISSUER: idpUrl("IDP_ISSUER"),
    IDP_CLIENT_ID: z.string({ error: "IDP_CLIENT_ID is required" }).min(1, "IDP_CLIENT_ID is required"),
    IDP_CLIENT_SECRET: z
      .string({ error: "IDP_CLIENT_SECRET is required (a secret)" })
      .min(16, "IDP_CLIENT_SECRET must be at least 16 characters"),
    IDP_JWKS_URL: unsetIfEmpty(idpUrl("IDP_JWKS_URL")),
    IDP_JWKS: unsetIfEmpty(idpJwks),
    IDP_MAX_AGE_SECONDS: unsetIfEmpty(positiveInt("IDP_MAX_AGE_SECONDS")),
    AUTOPILOT: flag("AUTOPILOT"),
    ADMIT_FLOOR_PER_MINUTE: positiveNumber("ADMIT_FLOOR_PER_MINUTE"),
    ORIGIN_TARGET_P95_MS: positiveInt("ORIGIN_TARGET_P95_MS"),
    ORIGIN_MAX_ERROR_SHARE: share("ORIGIN_MAX_ERROR_SHARE"),
    ACCESS_TEAM_DOMAIN: unsetIfEmpty(accessTeamDomain),
    ACCESS_AUD: unsetIfEmpty(z.string().trim().min(1)),
    ACCESS_JWKS: unsetIfEmpty(accessJwks),
    OPERATOR_SECRET: unsetIfEmpty(z.string().min(32, "OPERATOR_SECRET must be at least 32 characters")),
    // Web Push (src/edge/push/): the application server's P-256 key pair. Both, or neither (push is off).
    VAPID_PUBLIC_KEY: unsetIfEmpty(
      base64urlOf("VAPID_PUBLIC_KEY", 65, "the 65-byte uncompressed P-256 point").refine((k) => k.startsWith("B"), "VAPID_PUBLIC_KEY must be an uncompressed point (first byte 0x04)"),
    ),
    VAPID_PRIVATE_KEY: unsetIfEmpty(base64urlOf("VAPID_PRIVATE_KEY", 32, "the 32-byte P-256 private scalar")),
    VAPID_SUBJECT: unsetIfEmpty(vapidSubject),
    // Tests only (test/browser/autopilot.test.ts): the autopilot's intervals this many times shorter.
    AUTOPILOT_TIME_SCALE: unsetIfEmpty(positiveNumber("AUTOPILOT_TIME_SCALE")),
  })
  // Half an Access configuration would verify against nothing: both, or neither (then the local login).
  .refine((b) => (b.ACCESS_TEAM_DOMAIN === undefined) === (b.ACCESS_AUD === undefined), {
    message: "ACCESS_TEAM_DOMAIN and ACCESS_AUD: set both (Cloudflare Access guards /ops) or neither",
    path: ["ACCESS_TEAM_DOMAIN"],
  })
  .refine((b) => (b.VAPID_PUBLIC_KEY === undefined) === (b.VAPID_PRIVATE_KEY === undefined), {
    message: "VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY: set both (Web Push) or neither (no push)",
    path: ["VAPID_PUBLIC_KEY"],
  })
  .refine((b) => b.VAPID_PUBLIC_KEY === undefined || b.VAPID_SUBJECT !== undefined, {
    message: "VAPID_SUBJECT is required with the VAPID keys (a mailto: address or an https: URL)",
    path: ["VAPID_SUBJECT"],
  })
  // The provider's keys come from exactly one place, so nobody wonders which one is in force.
  .refine((b) => (b.IDP_JWKS_URL === undefined) !== (b.IDP_JWKS === undefined), {
    message: "IDP_JWKS_URL or IDP_JWKS: set exactly one (the identity provider's keys)",
    path: ["IDP_JWKS_URL"],
  })
  // Each shard must be able to hold at least one admitted person, or its line would never move.
  .refine((b) => b.MAX_ACTIVE >= b.SHARDS, { message: "MAX_ACTIVE must be at least SHARDS", path: ["MAX_ACTIVE"] })
  .refine((b) => b.COHORTS.every((c) => c.maxActive === undefined || c.maxActive >= b.SHARDS), {
    message: "a cohort's maxActive must be at least SHARDS",
    path: ["COHORTS"],
  });

export interface EdgeConfig {
  admitPerMinute: number;
  maxActive: number;
  shards: number;
  passTtlSeconds: number;
  claimWindowSeconds: number;
  /** A ticket whose holder has not been seen for this long when the line reaches it is passed over. */
  presenceSeconds: number;
  /** A citizen passed over (or whose admission lapsed) who comes back within this keeps their place, as next. */
  returnWindowSeconds: number;
  /** A pass with no request through the gate for this long stops holding capacity (it stays valid). */
  passIdleSeconds: number;
  paused: boolean;
  issuer: string;
  audience: string;
  originUrl: string;
  cohorts: CohortConfig[];
  signingKeys: SigningJwk[];
  citizenKeySecret: string;
  /** The secret each cohort's pre-queue draw seed is derived from (src/edge/prequeue/draw.ts). */
  drawSecret: string;
  identity: IdentityProviderConfig;
  autopilot: AutopilotBindings;
  operators: OperatorAuthConfig;
  /** Web Push's keys, or null when they are not set: push is then off and its routes answer 404. */
  push: VapidKeys | null;
}

/** How the admission rate follows the origin's health (src/edge/origin-health/autopilot.ts), cohort-wide figures. */
export interface AutopilotBindings {
  enabled: boolean;
  /** The rate never falls below this, however sick the origin: the line keeps moving. */
  floorPerMinute: number;
  targetP95Ms: number;
  maxErrorShare: number;
  /** AUTOPILOT_TIME_SCALE: 1 unless a test shortens the controller's intervals (src/edge/origin-health/autopilot.ts). */
  timeScale: number;
}

/**
 * Who may open the operators' console. With Cloudflare Access configured, only its JWT is accepted and the
 * local one-time login is refused; without it, the one-time login that `npm start` prints, whose codes
 * and sessions are signed with `localSecret`. With neither, the console is closed to everyone.
 */
export interface OperatorAuthConfig {
  access: { issuer: string; audience: string; keys: IdentityProviderConfig["keys"] } | null;
  localSecret: string | null;
}

/** The one OpenID Provider the edge trusts. */
export interface IdentityProviderConfig {
  issuer: string;
  clientId: string;
  clientSecret: string;
  keys: { kind: "remote"; url: string } | { kind: "inline"; jwks: JwksDocument };
  /** An id_token older than this (by `iat`) is refused, so a leaked one cannot be used for long. */
  maxAgeSeconds: number;
}

/** An id_token may be at most an hour old unless the operator says otherwise (IDP_MAX_AGE_SECONDS). */
export const DEFAULT_IDP_MAX_AGE_SECONDS = 3600;

/** Parses a plain record of bindings (the Worker's env, or process.env for `npm start`). */
export function parseEdgeConfig(source: Record<string, unknown>): EdgeConfig {
  const b = parseBindings(edgeBindings, source, "edge configuration");
  return {
    admitPerMinute: b.ADMIT_PER_MINUTE,
    maxActive: b.MAX_ACTIVE,
    shards: b.SHARDS,
    passTtlSeconds: b.PASS_TTL_SECONDS,
    claimWindowSeconds: b.CLAIM_WINDOW_SECONDS,
    presenceSeconds: b.PRESENCE_SECONDS,
    returnWindowSeconds: b.RETURN_WINDOW_SECONDS,
    passIdleSeconds: b.PASS_IDLE_SECONDS,
    paused: b.PAUSED,
    issuer: b.PASS_ISSUER,
    audience: b.PASS_AUDIENCE,
    originUrl: b.ORIGIN_URL.replace(/\/+$/, ""),
    cohorts: b.COHORTS,
    signingKeys: b.PASS_SIGNING_KEYS,
    citizenKeySecret: b.CITIZEN_KEY_SECRET,
    drawSecret: b.DRAW_SECRET,
    identity: {
      issuer: b.IDP_ISSUER,
      clientId: b.IDP_CLIENT_ID,
      clientSecret: b.IDP_CLIENT_SECRET,
      keys: b.IDP_JWKS ? { kind: "inline", jwks: b.IDP_JWKS } : { kind: "remote", url: b.IDP_JWKS_URL! },
      maxAgeSeconds: b.IDP_MAX_AGE_SECONDS ?? DEFAULT_IDP_MAX_AGE_SECONDS,
    },
    autopilot: {
      enabled: b.AUTOPILOT,
      // The autopilot moves the rate between the floor and ADMIT_PER_MINUTE. An operator who lowers the
      // rate below the default floor means the lower rate: the floor follows it down rather than refusing
      // to start (a cohort's own admitPerMinute is clamped the same way where the shard applies it).
      floorPerMinute: Math.min(b.ADMIT_FLOOR_PER_MINUTE, b.ADMIT_PER_MINUTE),
      targetP95Ms: b.ORIGIN_TARGET_P95_MS,
      maxErrorShare: b.ORIGIN_MAX_ERROR_SHARE,
      timeScale: b.AUTOPILOT_TIME_SCALE ?? 1,
    },
    operators: {
      access: b.ACCESS_TEAM_DOMAIN && b.ACCESS_AUD
        ? {
            issuer: `https://${b.ACCESS_TEAM_DOMAIN}`,
            audience: b.ACCESS_AUD,
            keys: b.ACCESS_JWKS
              ? { kind: "inline", jwks: b.ACCESS_JWKS }
              : { kind: "remote", url: `https://${b.ACCESS_TEAM_DOMAIN}/cdn-cgi/access/certs` },
          }
        : null,
      localSecret: b.ACCESS_TEAM_DOMAIN ? null : (b.OPERATOR_SECRET ?? null),
    },
    push: b.VAPID_PUBLIC_KEY && b.VAPID_PRIVATE_KEY && b.VAPID_SUBJECT
      ? { publicKey: b.VAPID_PUBLIC_KEY, privateKey: b.VAPID_PRIVATE_KEY, subject: b.VAPID_SUBJECT }
      : null,
  };
}

// Workers usually hand every request the same env object, so a WeakMap hit is the common path. The
// fallback keys on the binding values themselves, so a runtime that passes a fresh env object per
// request still parses (and imports keys) once per configuration, not once per request.
const parsedFor = new WeakMap<object, EdgeConfig>();
const parsedByValues = new Map<string, EdgeConfig>();
const BINDING_NAMES = Object.keys(edgeBindings.shape) as (keyof typeof edgeBindings.shape)[];

/** The configuration of this Worker or Durable Object, parsed on first use and then reused. */
export function edgeConfig(env: Env): EdgeConfig {
  const cached = parsedFor.get(env);
  if (cached) return cached;
  const source = env as unknown as Record<string, unknown>;
  const key = BINDING_NAMES.map((name) => String(source[name])).join("\u0000");
  let config = parsedByValues.get(key);
  if (!config) {
    config = parseEdgeConfig(source);
    // A deploy changes the configuration a handful of times in an isolate's life; keep the last few.
    if (parsedByValues.size >= 4) parsedByValues.delete(parsedByValues.keys().next().value!);
    parsedByValues.set(key, config);
  }
  parsedFor.set(env, config);
  return config;
}

/**
 * Whether a cohort takes joins at `now` (ms): from its opening time on, inclusive. The one place this is
 * decided, so the join, the cohort list, the ops view and `npm start` never disagree at the boundary.
 */
export function cohortIsOpen(cohort: Pick<CohortConfig, "opensAt">, now: number): boolean {
  return now >= Date.parse(cohort.opensAt);
}

/**
 * From when a cohort takes joins: its pre-queue's start if it has one (the shard keeps those joins
 * unplaced until the opening), else its opening.
 */
export function joinsOpenAt(cohort: Pick<CohortConfig, "opensAt" | "prequeueOpensAt">): string {
  return cohort.prequeueOpensAt ?? cohort.opensAt;
}

/** The admission settings in force for a cohort: its own overrides, else the global bindings. */
export function cohortPolicy(config: EdgeConfig, cohortId: string): AdmissionPolicy {
  const cohort = config.cohorts.find((c) => c.id === cohortId);
  return {
    admitPerMinute: cohort?.admitPerMinute ?? config.admitPerMinute,
    maxActive: cohort?.maxActive ?? config.maxActive,
    paused: cohort?.paused ?? config.paused,
  };
}

/** The cohort a birth year belongs to, if any. */
export function cohortForBirthYear(config: EdgeConfig, year: number): CohortConfig | undefined {
  return config.cohorts.find((c) => c.birthYears[0] <= year && year <= c.birthYears[1]);
}
