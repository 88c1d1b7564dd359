/**
 * Citizens for stack tests, through the development identity provider that `npm start` runs: id_tokens
 * for app-style joins (`/dev/id-tokens`), the SMS code a login prints, and the whole browser sign-in
 * (edge → provider pages → edge callback) driven over plain HTTP, for tests that need to replay or
 * tamper with the callback rather than look at pages.
 */
import { randomInt } from "node:crypto";
import { maskedPhone, toE164 } from "../../../src/dev-idp/phone.js";
import type { Stack } from "./stack.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface CitizenInput {
  /** Any spelling of a Korean mobile number; the provider normalises it to E.164. */
  phoneNumber: string;
  /** YYYY-MM-DD; the first token or login of a number records it, a different one later is a 409. */
  birthdate: string;
}

const issued = new Set<string>();
// The last four digits count up from a random start, so numbers of one run differ where the SMS line
// shows them (+82 10-****-5678) and smsCode never mistakes one citizen's code for another's.
let lastFour = randomInt(0, 10_000);

/** A Korean mobile number in E.164 that no other call in this process returned. */
export function newPhone(): string {
  for (;;) {
    lastFour = (lastFour + 1) % 10_000;
    const phone = `+8210${String(randomInt(1000, 10_000))}${String(lastFour).padStart(4, "0")}`;
    if (!issued.has(phone)) {
      issued.add(phone);
      return phone;
    }
  }
}

/** id_tokens for these citizens, in order, signed by the stack's provider (no nonce: an app's token). */
export async function idTokens(stack: Pick<Stack, "idp" | "mintSecret">, citizens: readonly CitizenInput[]): Promise<string[]> {
  const res = await fetch(`${stack.idp}/dev/id-tokens`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${stack.mintSecret}` },
    body: JSON.stringify({ citizens }),
  });
  const body: unknown = await res.json().catch(() => undefined);
  const tokens = typeof body === "object" && body !== null && "idTokens" in body ? body.idTokens : undefined;
  if (res.status !== 200 || !Array.isArray(tokens) || tokens.length !== citizens.length || !tokens.every((t) => typeof t === "string")) {
    throw new Error(`POST ${stack.idp}/dev/id-tokens answered ${res.status}: ${JSON.stringify(body)}`);
  }
  return tokens as string[];
}

const SMS_LINE = /SMS to (\+82 \d{2}-\**-\d{4}): your code is (\d{6})/g;

/**
 * The newest six-digit code the provider printed for this number (any spelling) after `since` characters
 * of the stack's output (take `stack.output().length` just before submitting the phone number). Polls
 * for up to 10 s.
 */
export async function smsCode(stack: Pick<Stack, "output">, phone: string, since = 0, timeoutMs = 10_000): Promise<string> {
  const target = maskedPhone(toE164(phone) ?? phone);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let code: string | undefined;
    for (const m of stack.output().slice(since).matchAll(SMS_LINE)) if (m[1] === target) code = m[2];
    if (code) return code;
    if (Date.now() > deadline) throw new Error(`no SMS code for ${target} within ${timeoutMs / 1000} s`);
    await sleep(100);
  }
}

/** One client's cookies for one site, honouring Path and deletion, as a browser would send them. */
export class CookieJar {
  readonly #cookies = new Map<string, { value: string; path: string }>();

  /** Takes the Set-Cookie headers of a response to `url`. */
  store(url: string, res: Response): void {
    const requestPath = new URL(url).pathname;
    for (const header of res.headers.getSetCookie()) {
      const [pair = "", ...attributes] = header.split(";");
      const eq = pair.indexOf("=");
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let path = requestPath.slice(0, requestPath.lastIndexOf("/")) || "/";
      let expired = value === "";
      for (const attribute of attributes) {
        const [key = "", val = ""] = attribute.split("=").map((s) => s.trim());
        if (key.toLowerCase() === "path" && val.startsWith("/")) path = val;
        if (key.toLowerCase() === "max-age" && Number(val) <= 0) expired = true;
        if (key.toLowerCase() === "expires" && Date.parse(val) <= Date.now()) expired = true;
      }
      const id = `${name}\u0000${path}`;
      if (expired) this.#cookies.delete(id);
      else this.#cookies.set(id, { value, path });
    }
  }

  /** The Cookie header for a request to `url` (undefined when no cookie applies). */
  header(url: string): string | undefined {
    const path = new URL(url).pathname;
    const applies = [...this.#cookies].filter(([, c]) => path === c.path || path.startsWith(c.path.endsWith("/") ? c.path : `${c.path}/`));
    return applies.length ? applies.map(([id, c]) => `${id.split("\u0000")[0]}=${c.value}`).join("; ") : undefined;
  }

  /** Name → value of every cookie held (for a cookie set on two paths, the last one stored). */
  all(): Record<string, string> {
    return Object.fromEntries([...this.#cookies].map(([id, c]) => [id.split("\u0000")[0]!, c.value]));
  }
}

/** A GET or form POST with this jar's cookies, not following redirects; the jar keeps what comes back. */
export async function send(jar: CookieJar, url: string, init: { method?: "GET" | "POST"; form?: Record<string, string>; accept?: string } = {}): Promise<Response> {
  const headers: Record<string, string> = { accept: init.accept ?? "text/html" };
  const cookie = jar.header(url);
  if (cookie) headers.cookie = cookie;
  if (init.form) headers["content-type"] = "application/x-www-form-urlencoded";
  const res = await fetch(url, {
    method: init.method ?? "GET",
    headers,
    redirect: "manual",
    body: init.form ? new URLSearchParams(init.form).toString() : undefined,
  });
  jar.store(url, res);
  return res;
}

/** The absolute Location of a redirect; throws (naming the status) if `res` is not one. */
export function locationOf(res: Response, from: string): string {
  const location = res.headers.get("location");
  if (!location || res.status < 300 || res.status > 399) throw new Error(`expected a redirect from ${from}, got ${res.status}`);
  return new URL(location, from).href;
}

/**
 * The provider's part of a browser sign-in: from its authorization URL, through its phone/birth-date form
 * and the SMS code (read from `output`), until it redirects the browser off its own origin; returns where
 * to (the relying party's redirect_uri with `code`, `state`, `iss`, or with `error`). A browser the
 * provider remembers (`idpJar` with a session) is sent back without seeing a page: `asked` is false.
 */
export async function signInAtProvider(
  provider: { idp: string; output: () => string },
  authorizationUrl: string,
  phone: string,
  birthdate: string,
  idpJar: CookieJar,
): Promise<{ returnUrl: string; asked: boolean }> {
  let url = authorizationUrl;
  let asked = false;
  // Bounded: a redirect loop is a failure, not a hang.
  for (let hops = 0; new URL(url).origin === provider.idp; hops++) {
    if (hops > 12) throw new Error(`the provider kept redirecting; last at ${url}`);
    const res = await send(idpJar, url);
    if (res.status >= 300 && res.status < 400) {
      url = locationOf(res, url);
      continue;
    }
    const html = await res.text();
    const phoneAction = /action="([^"]*\/phone)"/.exec(html)?.[1];
    if (res.status !== 200 || !phoneAction) throw new Error(`expected the provider's phone form at ${url}, got ${res.status}:\n${html.slice(0, 500)}`);
    asked = true;
    const phoneUrl = new URL(phoneAction, url).href;
    const since = provider.output().length;
    const phoneRes = await send(idpJar, phoneUrl, { method: "POST", form: { phone, birthdate } });
    const codePage = locationOf(phoneRes, phoneUrl);
    const code = await smsCode(provider, phone, since);
    const codeHtml = await (await send(idpJar, codePage)).text();
    const codeUrl = new URL(/action="([^"]*\/code)"/.exec(codeHtml)?.[1] ?? "", codePage).href;
    const codeRes = await send(idpJar, codeUrl, { method: "POST", form: { code } });
    if (codeRes.status === 409) throw new Error(`the provider refused ${phone} with ${birthdate}: that number is registered with another birth date`);
    url = locationOf(codeRes, codeUrl);
  }
  return { returnUrl: url, asked };
}

export interface LoginOptions {
  /** Stop once the provider sends the browser back: return the callback URL without calling it. */
  stopBeforeCallback?: boolean;
  /** `lang` of GET /auth/login. */
  lang?: "ko" | "en";
  /** The edge's cookies to start from (the same browser signing in again). */
  edgeJar?: CookieJar;
  /** The provider's cookies to start from (a browser with a provider session skips the pages). */
  idpJar?: CookieJar;
  /** Accept header of the callback request: text/html as a browser sends it (default), or application/json. */
  accept?: string;
}

export interface LoginResult {
  /** `<edge>/auth/callback?code=…&state=…&iss=…`, where the provider sent the browser back. */
  callbackUrl: string;
  /** The edge's answer to the callback (undefined with `stopBeforeCallback`). */
  status?: number;
  /** Its Location, absolute (`<edge>/` on success, `<edge>/?signin=<reason>` on refusal); null if none. */
  location?: string | null;
  /** The edge's cookies after the last request made: the login transaction before the callback, `wr_ticket` after. */
  edgeCookies: Record<string, string>;
  /** The jars, to continue as the same browser (a second login, a replay of the callback). */
  edgeJar: CookieJar;
  idpJar: CookieJar;
  /** Whether the provider showed its pages (false when its session remembered the citizen). */
  asked: boolean;
}

/**
 * A citizen's browser sign-in over HTTP: GET <edge>/auth/login → the provider's authorization endpoint →
 * its phone/birth-date form → the SMS code read from the stack's output → back to <edge>/auth/callback,
 * which it calls (unless `stopBeforeCallback`). Every redirect is followed by hand, each site with its own
 * cookie jar, so nothing is shared that a browser would not share.
 */
export async function loginOverHttp(stack: Pick<Stack, "base" | "idp" | "output">, phone: string, birthdate: string, opts: LoginOptions = {}): Promise<LoginResult> {
  const edgeJar = opts.edgeJar ?? new CookieJar();
  const idpJar = opts.idpJar ?? new CookieJar();
  const loginUrl = `${stack.base}/auth/login${opts.lang ? `?lang=${opts.lang}` : ""}`;
  const url = locationOf(await send(edgeJar, loginUrl), loginUrl);
  if (!url.startsWith(`${stack.idp}/`)) throw new Error(`GET /auth/login sent the browser to ${url}, not to the provider at ${stack.idp}`);

  const { returnUrl: callbackUrl, asked } = await signInAtProvider({ idp: stack.idp, output: stack.output }, url, phone, birthdate, idpJar);
  if (!callbackUrl.startsWith(`${stack.base}/auth/callback?`)) throw new Error(`the provider sent the browser to ${callbackUrl}, not to the edge's callback`);
  if (opts.stopBeforeCallback) return { callbackUrl, edgeCookies: edgeJar.all(), edgeJar, idpJar, asked };
  const res = await send(edgeJar, callbackUrl, { accept: opts.accept ?? "text/html" });
  const location = res.headers.get("location");
  await res.body?.cancel();
  return {
    callbackUrl,
    status: res.status,
    location: location === null ? null : new URL(location, callbackUrl).href,
    edgeCookies: edgeJar.all(),
    edgeJar,
    idpJar,
    asked,
  };
}

/** Calls (or replays) a callback URL as the browser holding `edgeJar`; returns the edge's answer. */
export async function callCallback(edgeJar: CookieJar, callbackUrl: string, accept = "text/html"): Promise<{ status: number; location: string | null; edgeCookies: Record<string, string> }> {
  const res = await send(edgeJar, callbackUrl, { accept });
  const location = res.headers.get("location");
  await res.body?.cancel();
  return { status: res.status, location: location === null ? null : new URL(location, callbackUrl).href, edgeCookies: edgeJar.all() };
}

/**
 * Signs a new citizen in on the waiting page open in `page`, through the provider's own pages, as a person
 * does: the sign-in button, a phone number and birth date, the texted code. Resolves back on the edge's page.
 */
export async function signInOnPage(page: import("playwright-core").Page, stack: Pick<Stack, "base" | "output">, birthdate: string, timeout = 20_000): Promise<string> {
  await page.locator("#view-signin").waitFor({ state: "visible", timeout });
  await Promise.all([page.waitForEvent("load", { timeout }), page.locator("#signin").click()]);
  const phone = newPhone();
  const since = stack.output().length;
  await page.getByLabel(/휴대전화 번호|Mobile phone number/).fill(phone.replace(/^\+82(\d{2})(\d{3,4})(\d{4})$/, "0$1-$2-$3"));
  await page.getByLabel(/생년월일|Date of birth/).fill(birthdate);
  await page.getByRole("button", { name: /인증번호 받기|Send me a code/ }).click();
  await page.getByLabel(/인증번호 6자리|6-digit code/).fill(await smsCode(stack, phone, since));
  await page.getByRole("button", { name: /확인|Verify/ }).click();
  await page.waitForURL((url) => url.origin === stack.base, { timeout });
  return phone;
}
