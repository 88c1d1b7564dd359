import type { IncomingMessage, ServerResponse } from "node:http";
import type Provider from "oidc-provider";
import type { IdpConfig } from "./config.js";
import { handleDevIdTokens } from "./dev-id-tokens.js";
import { ClientProblem, sendError, sendHtml } from "./http.js";
import { IdTokenMinter } from "./id-tokens.js";
import { handleInteraction } from "./interactions.js";
import { errorPage } from "./pages.js";
import { createProvider } from "./provider.js";
import { CitizenRegistry } from "./registry.js";
import { SmsChallenges } from "./sms.js";
import type { IdpSecrets } from "./state.js";

/**
 * The development provider as one Node request listener: our login pages and /dev/id-tokens, and
 * everything else (discovery, /jwks, /auth, /token, /me) to oidc-provider. No request may crash the
 * process or show a stack: client mistakes get a 4xx, faults a bare 500 and one log line.
 */

export interface DevIdp {
  listener: (req: IncomingMessage, res: ServerResponse) => void;
  provider: Provider;
}

export function createDevIdp(config: IdpConfig, secrets: IdpSecrets, log: (line: string) => void): DevIdp {
  const registry = new CitizenRegistry(config.stateDir, secrets.subjectSecret);
  const provider = createProvider(config, secrets, registry);
  const sms = new SmsChallenges(log);
  const minter = new IdTokenMinter(secrets.signingKey, config.issuer, config.clientId);
  // oidc-provider answers its protocol errors in OAuth's own shape ({"error","error_description"}), which
  // relying parties parse, so those stay. A path it has no route for falls through to Koa's bare text
  // "Not Found"; that one is given in the project's error shape.
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.status === 404 && (ctx.body === undefined || ctx.body === null)) {
      ctx.status = 404;
      ctx.body = { error: { code: "not_found", message: "no such route" } };
    }
  });
  const oidc = provider.callback();

  // oidc-provider reports its own 5xx here (it has already answered the client). Koa would print the
  // whole error with its stack otherwise; one line names the fault without request data.
  provider.on("server_error", (_ctx, err) => log(`provider fault: ${describe(err)}`));
  provider.on("error", (err) => log(`provider fault: ${describe(err)}`));

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let url = new URL("/", config.issuer);
    let wantsJson = false;
    try {
      // A request no browser would send (a target or Host that is not one) is answered in the error
      // shape, whatever page it named.
      wantsJson = true;
      url = requestUrl(req, config.issuer);
      checkHost(req);
      wantsJson = url.pathname.startsWith("/dev/");
      if (url.pathname === "/dev/id-tokens") return await handleDevIdTokens({ registry, minter, mintSecret: config.mintSecret }, req, res);
      if (url.pathname === "/interaction" || url.pathname.startsWith("/interaction/")) {
        return await handleInteraction({ provider, registry, sms, log }, req, res, url);
      }
      if (wantsJson) throw new ClientProblem(404, "not_found", "no such route");
      return await oidc(req, res);
    } catch (err) {
      if (res.headersSent) {
        res.destroy();
      } else if (err instanceof ClientProblem) {
        if (err.allow !== undefined) res.setHeader("allow", err.allow);
        if (err.challenge !== undefined) res.setHeader("www-authenticate", err.challenge);
        // A body refused part-way (over the limit) is left unread: close rather than read the rest.
        if (!req.complete) res.setHeader("connection", "close");
        if (wantsJson) sendError(res, err.status, err.code, err.message);
        else sendHtml(res, err.status, errorPage({ lang: "ko", message: { ko: "요청이 올바르지 않습니다.", en: "The request is not valid." }, detail: err.message }));
      } else {
        log(`fault on ${req.method} ${url.pathname}: ${describe(err)}`);
        if (wantsJson) sendError(res, 500, "internal", "the provider failed; see its log");
        else sendHtml(res, 500, errorPage({ lang: "ko", message: { ko: "일시적인 오류입니다.", en: "Something went wrong on our side." } }));
      }
    }
  }

  return {
    provider,
    listener: (req, res) => {
      route(req, res).catch((err: unknown) => {
        log(`fault while answering: ${describe(err)}`);
        res.destroy();
      });
    },
  };
}

/** The request's URL; a target Node's parser let through but URL cannot read (`http://[`) is the client's mistake. */
function requestUrl(req: IncomingMessage, base: string): URL {
  try {
    return new URL(req.url ?? "/", base);
  } catch {
    throw new ClientProblem(400, "invalid_request", "the request target is not a URL");
  }
}

/**
 * A Host header must name a host: oidc-provider builds URLs from it and, given `[::1` or `a b`, throws
 * (a 500). Node's parser lets such values through, so they are refused here as the client's mistake.
 */
function checkHost(req: IncomingMessage): void {
  const host = req.headers.host;
  if (host === undefined) return;
  let parsed: URL | undefined;
  try {
    parsed = new URL(`http://${host}/`);
  } catch {
    parsed = undefined;
  }
  if (!parsed || parsed.host !== host.toLowerCase().replace(/:80$/, "")) throw new ClientProblem(400, "invalid_request", "the Host header is not a host");
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
