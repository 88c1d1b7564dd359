import { decodeJwt, decodeProtectedHeader } from "jose";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { mintRequest, newStateDir, removeStateDirs, runIdp, startIdp, type RunningIdp } from "./support/provider.js";

/** What survives a restart: keys, cookie keys and the registry live in IDP_STATE_DIR. */

const running: RunningIdp[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((idp) => idp.stop()));
});
afterAll(removeStateDirs);

async function kid(idp: RunningIdp): Promise<string> {
  const jwks = (await (await fetch(`${idp.url}/jwks`)).json()) as { keys: { kid: string }[] };
  return jwks.keys[0]!.kid;
}

async function mint(idp: RunningIdp, phoneNumber: string, birthdate: string) {
  const res = await mintRequest(idp, [{ phoneNumber, birthdate }]);
  const body = (await res.json()) as { idTokens?: string[] };
  return { status: res.status, token: body.idTokens?.[0] };
}

describe("state across restarts", () => {
  it("keeps the signing key, the subjects and the registry in the same state folder", async () => {
    const stateDir = newStateDir();
    const first = await startIdp({ stateDir });
    running.push(first);
    const kid1 = await kid(first);
    const minted = await mint(first, "010-4444-0001", "1964-05-17");
    expect(minted.status).toBe(200);
    await first.stop();

    const second = await startIdp({ stateDir });
    running.push(second);
    expect(await kid(second)).toBe(kid1);
    const again = await mint(second, "+821044440001", "1964-05-17");
    expect(decodeJwt(again.token!).sub).toBe(decodeJwt(minted.token!).sub);
    expect(decodeProtectedHeader(again.token!).kid).toBe(kid1);
    // The registry remembered the birth date.
    expect((await mint(second, "01044440001", "1964-05-18")).status).toBe(409);

    // A fresh folder is a fresh provider: another key, another sub for the same number.
    const other = await startIdp();
    running.push(other);
    expect(await kid(other)).not.toBe(kid1);
    expect(decodeJwt((await mint(other, "01044440001", "1964-05-17")).token!).sub).not.toBe(decodeJwt(minted.token!).sub);
  });
});

describe("bad environment", () => {
  const good = { IDP_PORT: "18999", IDP_CLIENT_SECRET: "s".repeat(40), DEV_IDP_MINT_SECRET: "m".repeat(40), IDP_REDIRECT_URIS: "http://127.0.0.1:8787/auth/callback" };
  it.each([
    ["IDP_CLIENT_SECRET", { IDP_CLIENT_SECRET: "short" }],
    ["IDP_CLIENT_SECRET", { IDP_CLIENT_SECRET: undefined }],
    ["DEV_IDP_MINT_SECRET", { DEV_IDP_MINT_SECRET: "short" }],
    ["DEV_IDP_MINT_SECRET", { DEV_IDP_MINT_SECRET: undefined }],
    ["IDP_REDIRECT_URIS", { IDP_REDIRECT_URIS: "not a url" }],
    ["IDP_REDIRECT_URIS", { IDP_REDIRECT_URIS: undefined }],
    ["IDP_PORT", { IDP_PORT: "eighty" }],
    ["IDP_PORT", { IDP_PORT: "70000" }],
    ["IDP_CLIENT_ID", { IDP_CLIENT_ID: "has spaces" }],
  ])("stops at start naming %s", async (name, change) => {
    const env: Record<string, string> = { IDP_STATE_DIR: newStateDir() };
    for (const [k, v] of Object.entries({ ...good, ...change })) if (v !== undefined) env[k] = v;
    const { exit, output } = runIdp(env);
    expect(await exit).toBe(2);
    expect(output()).toContain(`dev identity provider: ${name} `);
    expect(output()).not.toMatch(/\n\s+at /);
  });
});
