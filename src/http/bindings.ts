import { z } from "zod";

/**
 * Reading configuration from bindings (a Worker's env, or process.env on Node), the same way for the edge
 * and the origin: parsed once with zod, and a missing or bad binding stops the app with its name rather
 * than let it run on a silent default.
 */

/** Thrown when a binding is missing or malformed; the message names every bad binding. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** A binding that holds JSON: parsed here, so its schema sees values and its errors name the binding. */
export const jsonBinding = (required: string, notJson: string) =>
  z.string({ error: required }).transform((s, ctx) => {
    try {
      return JSON.parse(s) as unknown;
    } catch {
      ctx.addIssue({ code: "custom", message: notJson });
      return z.NEVER;
    }
  });

/** A JWKS document: public keys given inline rather than fetched (the provider's at the edge, the edge's at the origin). */
export const jwksDocument = z.object({ keys: z.array(z.looseObject({ kty: z.string() })).min(1) });
export type JwksDocument = z.infer<typeof jwksDocument>;

/**
 * Parses `source` with `schema`, or throws a ConfigError that names each bad binding:
 * `bad {what}: PASS_ISSUER is required; PORT: …`.
 */
export function parseBindings<S extends z.ZodType>(schema: S, source: Record<string, unknown>, what: string): z.infer<S> {
  const parsed = schema.safeParse(source);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const binding = String(issue.path[0] ?? "");
    return issue.message.includes(binding) || !binding ? issue.message : `${binding}: ${issue.message}`;
  });
  throw new ConfigError(`bad ${what}: ${problems.join("; ")}`);
}
