import { createHash, randomBytes } from "node:crypto";
import { connect } from "node:net";
import { createRemoteJWKSet, decodeJwt, jwtVerify } from "jose";
import { describe, expect, it } from "vitest";
import { CookieJar, locationOf, send, signInAtProvider, smsCode } from "../browser/support/identity.js";
import { idpForFile, mintRequest } from "./support/provider.js";

/**
 * The browser sign-in at the development provider, over HTTP as a browser would drive it (manual
 * redirects, its own cookies), with the test as the relying party: authorization request with PKCE,
 * state and nonce; the provider's phone and SMS-code pages; the code exchanged with client_secret_basic.
 */

const idp = idpForFile();

let counter = 0;
/** A fresh number per test, in the national spelling a person types; its E.164 form alongside. */
function person() {
  const digits = `3${String(++counter).padStart(3, "0")}${String(1000 + counter * 7).slice(-4)}`;
  return { typed: `010-${digits.slice(0, 4)}-${digits.slice(4)}`, e164: `+8210${digits}` };
}

function authorizationRequest(extra: Record<string, string> = {}) {
  const verifier = randomBytes(32).toString("base64url");
  const state = randomBytes(16).toString("base64url");
  const nonce = randomBytes(16).toString("base64url");
  const url = new URL(`${idp.url}/auth`);
  const params: Record<string, string> = {
    client_id: idp.clientId,
    redirect_uri: idp.redirectUri,
    response_type: "code",
    scope: "openid profile phone",
    state,
    nonce,
    code_challenge: createHash("sha256").update(verifier).digest("base64url"),
    code_challenge_method: "S256",
    ...extra,
  };
  for (const [k, v] of Object.entries(params)) if (v !== "") url.searchParams.set(k, v);
  return { url: url.href, verifier, state, nonce };
}

async function exchange(code: string, verifier: string, secret = idp.clientSecret) {
  const res = await fetch(`${idp.url}/token`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(idp.clientId)}:${encodeURIComponent(secret)}`).toString("base64")}`,
    },
    body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: idp.redirectUri, code_verifier: verifier }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Follows redirects at the provider until a page (returned) or a redirect off the provider. */
async function follow(jar: CookieJar, url: string): Promise<{ url: string; status: number; html: string }> {
  for (let hops = 0; hops < 10; hops++) {
    if (new URL(url).origin !== idp.url) return { url, status: 0, html: "" };
    const res = await send(jar, url);
    if (res.status >= 300 && res.status < 400) url = locationOf(res, url);
    else return { url, status: res.status, html: await res.text() };
  }
  throw new Error("redirect loop");
}

const action = (html: string, step: "phone" | "code") => new URL(/action="([^"]*)"/.exec(html)![1]!, idp.url).href.replace(/\/(phone|code)$/, `/${step}`);

describe("signing in at the development provider", () => {
  it("asks for phone and birth date, then the SMS code, and the code exchanges for an id_token with the nonce", async () => {
    const who = person();
    // A script used the number first (a test identity): the same number signed in gets the same sub.
    const scripted = (await (await mintRequest(idp, [{ phoneNumber: who.e164, birthdate: "1964-05-17" }])).json()) as { idTokens: string[] };
    const request = authorizationRequest();
    const jar = new CookieJar();
    const { returnUrl, asked } = await signInAtProvider({ idp: idp.url, output: idp.output }, request.url, who.typed, "1964-05-17", jar);
    expect(asked).toBe(true);
    const back = new URL(returnUrl);
    expect(`${back.origin}${back.pathname}`).toBe(idp.redirectUri);
    expect(back.searchParams.get("state")).toBe(request.state);
    expect(back.searchParams.get("iss")).toBe(idp.url);
    const code = back.searchParams.get("code")!;
    expect(code).toBeTruthy();

    const tokens = await exchange(code, request.verifier);
    expect(tokens.status).toBe(200);
    const keys = createRemoteJWKSet(new URL(`${idp.url}/jwks`));
    const { payload } = await jwtVerify(tokens.body.id_token as string, keys, { issuer: idp.url, audience: idp.clientId, algorithms: ["RS256"] });
    expect(payload).toMatchObject({ nonce: request.nonce, birthdate: "1964-05-17", phone_number: who.e164, phone_number_verified: true });
    expect(decodeJwt(scripted.idTokens[0]!).sub).toBe(payload.sub);

    // A number a person signed in with is theirs: the scripts' door mints nothing for it, and answers the
    // same whether the birth date it names is the registered one or not, so it confirms none.
    const answers = [];
    for (const birthdate of ["1964-05-17", "1964-05-18", "1990-01-01"]) {
      const res = await mintRequest(idp, [{ phoneNumber: who.typed, birthdate }]);
      answers.push({ status: res.status, body: await res.text() });
    }
    expect(answers[0]!.status).toBe(403);
    expect(JSON.parse(answers[0]!.body)).toEqual({ error: { code: "sign_in_required", message: expect.stringContaining(who.e164) } });
    expect(answers[1]).toEqual(answers[0]);
    expect(answers[2]).toEqual(answers[0]);
    expect(answers[0]!.body).not.toContain("1964");

    // A code works once.
    expect((await exchange(code, request.verifier)).status).toBe(400);
    // The log shows the SMS line for the masked number, never the authorization code or a token.
    expect(idp.output()).toMatch(/SMS to \+82 10-\*{4}-\d{4}: your code is \d{6}/);
    expect(idp.output()).not.toContain(code);
    expect(idp.output()).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
  });

  it("requires PKCE and checks the verifier and the client secret", async () => {
    const noPkce = authorizationRequest({ code_challenge: "", code_challenge_method: "" });
    const refused = await follow(new CookieJar(), noPkce.url);
    const back = new URL(refused.url);
    expect(`${back.origin}${back.pathname}`).toBe(idp.redirectUri);
    expect(back.searchParams.get("error")).toBe("invalid_request");
    expect(back.searchParams.get("code")).toBeNull();

    const request = authorizationRequest();
    const { returnUrl } = await signInAtProvider({ idp: idp.url, output: idp.output }, request.url, person().typed, "1965-01-01", new CookieJar());
    const code = new URL(returnUrl).searchParams.get("code")!;
    expect((await exchange(code, request.verifier, "x".repeat(43))).status).toBe(401);
    const wrongVerifier = await exchange(code, randomBytes(32).toString("base64url"));
    expect(wrongVerifier.status).toBe(400);
    expect(wrongVerifier.body.error).toBe("invalid_grant");
  });

  it("after five wrong codes the code is void and the login restarts at the phone step", async () => {
    const who = person();
    const jar = new CookieJar();
    const start = await follow(jar, authorizationRequest().url);
    expect(start.status).toBe(200);
    expect(start.html).toContain('name="phone"');
    const phoneUrl = action(start.html, "phone");
    const since = idp.output().length;
    const sent = await send(jar, phoneUrl, { method: "POST", form: { phone: who.typed, birthdate: "1966-02-03" } });
    expect(sent.status).toBe(303);
    const code = await smsCode(idp, who.e164, since);
    const wrong = code === "000000" ? "111111" : "000000";
    const codeUrl = action(start.html, "code");
    for (let i = 1; i <= 4; i++) {
      const res = await send(jar, codeUrl, { method: "POST", form: { code: wrong } });
      expect(res.status).toBe(400);
      const html = await res.text();
      expect(html).toContain('name="code"');
      expect(html).toContain(`${5 - i} more`);
    }
    const fifth = await send(jar, codeUrl, { method: "POST", form: { code: wrong } });
    expect(fifth.status).toBe(400);
    const restarted = await fifth.text();
    expect(restarted).toContain('name="phone"');
    expect(restarted).toContain("Start again");
    // The right code of the spent challenge no longer works.
    const late = await send(jar, codeUrl, { method: "POST", form: { code } });
    expect(late.status).toBe(400);
    expect(await late.text()).toContain('name="phone"');
    expect((await follow(jar, `${idp.url}/interaction/${/\/interaction\/([^/]+)\//.exec(codeUrl)![1]}`)).html).toContain('name="phone"');

    // Starting again sends a new code, which finishes the login.
    const since2 = idp.output().length;
    expect((await send(jar, phoneUrl, { method: "POST", form: { phone: who.typed, birthdate: "1966-02-03" } })).status).toBe(303);
    const code2 = await smsCode(idp, who.e164, since2);
    const done = await send(jar, codeUrl, { method: "POST", form: { code: code2 } });
    expect(done.status).toBe(303);
    const back = new URL((await follow(jar, locationOf(done, codeUrl))).url);
    expect(`${back.origin}${back.pathname}`).toBe(idp.redirectUri);
    expect(back.searchParams.get("code")).toBeTruthy();
  });

  it("sends one number at most five codes a quarter of an hour, so restarting cannot buy endless guesses", async () => {
    const who = person();
    const other = person();
    const jar = new CookieJar();
    const start = await follow(jar, authorizationRequest().url);
    const phoneUrl = action(start.html, "phone");
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) {
      const res = await send(jar, phoneUrl, { method: "POST", form: { phone: who.typed, birthdate: "1966-02-03" } });
      statuses.push(res.status);
      if (res.status === 429) expect(await res.text()).toContain("Too many codes");
      else await res.body?.cancel();
    }
    expect(statuses).toEqual([303, 303, 303, 303, 303, 429, 429]);
    // Another number is not held up by this one.
    expect((await send(jar, phoneUrl, { method: "POST", form: { phone: other.typed, birthdate: "1966-02-03" } })).status).toBe(303);
  });

  it("refuses, after the code, a birth date other than the one the registry holds for the number", async () => {
    const who = person();
    await signInAtProvider({ idp: idp.url, output: idp.output }, authorizationRequest().url, who.typed, "1964-05-17", new CookieJar());
    const jar = new CookieJar();
    const start = await follow(jar, authorizationRequest().url);
    const since = idp.output().length;
    await send(jar, action(start.html, "phone"), { method: "POST", form: { phone: who.e164, birthdate: "1970-05-17" } });
    const code = await smsCode(idp, who.e164, since);
    const res = await send(jar, action(start.html, "code"), { method: "POST", form: { code } });
    expect(res.status).toBe(409);
    expect(res.headers.get("location")).toBeNull();
    expect(await res.text()).toContain("registered with another date of birth");
  });

  it("sends a cancelled sign-in back to the client as access_denied", async () => {
    const jar = new CookieJar();
    const request = authorizationRequest();
    const start = await follow(jar, request.url);
    const abort = new URL(/href="([^"]*\/abort)"/.exec(start.html)![1]!, idp.url).href;
    const back = new URL((await follow(jar, abort)).url);
    expect(`${back.origin}${back.pathname}`).toBe(idp.redirectUri);
    expect(back.searchParams.get("error")).toBe("access_denied");
    expect(back.searchParams.get("state")).toBe(request.state);
  });

  it("keeps a sign-in in progress while 2,500 others start (the library's default store holds at most 2,000 records)", async () => {
    const who = person();
    const jar = new CookieJar();
    const request = authorizationRequest();
    const start = await follow(jar, request.url);
    expect(start.html).toContain('name="phone"');
    for (let batch = 0; batch < 25; batch++) {
      await Promise.all(Array.from({ length: 100 }, async () => (await fetch(authorizationRequest().url, { redirect: "manual" })).body?.cancel()));
    }
    const since = idp.output().length;
    expect((await send(jar, action(start.html, "phone"), { method: "POST", form: { phone: who.typed, birthdate: "1967-08-09" } })).status).toBe(303);
    const done = await send(jar, action(start.html, "code"), { method: "POST", form: { code: await smsCode(idp, who.e164, since) } });
    const back = new URL((await follow(jar, locationOf(done, action(start.html, "code")))).url);
    expect(back.searchParams.get("state")).toBe(request.state);
    expect((await exchange(back.searchParams.get("code")!, request.verifier)).status).toBe(200);
  });

  it("shows English first when the client asks for ui_locales=en, Korean otherwise", async () => {
    const en = await follow(new CookieJar(), authorizationRequest({ ui_locales: "en" }).url);
    expect(en.html).toMatch(/<html lang="en">/);
    expect(en.html).toMatch(/<label for="phone">Mobile phone number <span class="other" lang="ko">휴대전화 번호<\/span><\/label>/);
    const ko = await follow(new CookieJar(), authorizationRequest().url);
    expect(ko.html).toMatch(/<html lang="ko">/);
    expect(ko.html).toMatch(/<label for="birthdate">생년월일/);
  });
});

/** The status line of a hand-written HTTP/1.1 request: targets no fetch would send. */
function rawStatus(target: string): Promise<string> {
  const { hostname, port } = new URL(idp.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.end(`GET ${target} HTTP/1.1\r\nHost: ${hostname}\r\nConnection: close\r\n\r\n`));
    let answer = "";
    socket.on("data", (chunk: Buffer) => (answer += chunk.toString()));
    socket.on("end", () => resolve(answer.split("\r\n")[0] ?? ""));
    socket.on("error", reject);
    socket.setTimeout(5_000, () => socket.destroy(new Error(`no answer to ${target}`)));
  });
}

describe("bad requests", () => {
  it("never sends a browser to an unregistered redirect_uri", async () => {
    const res = await send(new CookieJar(), authorizationRequest({ redirect_uri: "http://attacker.example/cb" }).url);
    expect(res.status).toBe(400);
    expect(res.headers.get("location")).toBeNull();
  });

  it("answers each with a 4xx, escapes what it echoes, and keeps running", async () => {
    const jar = new CookieJar();
    const start = await follow(jar, authorizationRequest().url);
    const echoed = await send(jar, action(start.html, "phone"), { method: "POST", form: { phone: `<script>alert(1)</script>`, birthdate: `"><img src=x>` } });
    expect(echoed.status).toBe(400);
    const html = await echoed.text();
    expect(html).not.toContain("<script>alert");
    expect(html).not.toContain("<img src=x>");
    expect(html).toContain("&lt;script&gt;");
    expect(echoed.headers.get("content-security-policy")).toContain("default-src 'none'");

    const probes: [string, RequestInit][] = [
      [`${idp.url}/interaction/unknown`, {}],
      [`${idp.url}/interaction/unknown/phone`, { method: "POST", body: "phone=1", headers: { "content-type": "application/x-www-form-urlencoded" } }],
      [`${idp.url}/interaction/unknown/code`, { method: "GET" }],
      [`${idp.url}/interaction/${"x".repeat(500)}`, {}],
      [`${idp.url}/interaction/`, {}],
      [`${idp.url}/auth`, {}],
      [`${idp.url}/auth?client_id=nobody&response_type=code&scope=openid`, {}],
      [`${idp.url}/token`, { method: "POST", body: "grant_type=authorization_code&code=x", headers: { "content-type": "application/x-www-form-urlencoded" } }],
      [`${idp.url}/token`, { method: "POST", body: "{", headers: { "content-type": "application/json" } }],
      [`${idp.url}/me`, {}],
      [`${idp.url}/nowhere`, {}],
      [`${idp.url}/%E0%A4%A`, {}],
    ];
    for (const [url, init] of probes) {
      const res = await fetch(url, { redirect: "manual", ...init });
      const text = await res.text();
      expect([url, res.status >= 400 && res.status < 500]).toEqual([url, true]);
      expect(text).not.toMatch(/\n\s+at .*:\d+:\d+/);
    }
    // With the browser's cookie: the wrong method, then a form that is not a form.
    expect((await send(jar, action(start.html, "phone"), { method: "GET" })).status).toBe(405);
    const json = await fetch(action(start.html, "phone"), { method: "POST", headers: { cookie: jar.header(action(start.html, "phone"))!, "content-type": "application/json" }, body: "{}" });
    expect(json.status).toBe(415);
    expect(idp.alive()).toBe(true);
    for (const target of ["http://[", "/%zz", "*", "//elsewhere/x", "/interaction/%00", "/interaction/a/../../jwks", "/dev/id-tokens?x=%"]) {
      expect([target, await rawStatus(target)]).toEqual([target, expect.stringMatching(/^HTTP\/1\.1 (4\d\d|200)/)]);
    }
    expect(idp.alive()).toBe(true);
    // Client mistakes are not faults: nothing was logged as one.
    expect(idp.output()).not.toContain("fault");
  });
});
