import { describe, expect, it } from "vitest";
import { errorBody } from "../../src/contract/errors.js";
import { chunkedUntilAnswered, rawExchange, shapedError } from "../support/raw-http.js";
import { idpForFile } from "./support/provider.js";

/**
 * The provider's own bodies go through the project's one body limit (256 KB for /dev/id-tokens), and
 * what Node's parser refuses before any handler runs is answered in the error shape, not Node's bare
 * 431 or 400. oidc-provider reads its own forms with its own bound (56 KB), left as it is.
 */

const idp = idpForFile();

function portOf(): number {
  return Number(new URL(idp.url).port);
}

describe("the provider's answers to raw requests", () => {
  it("headers over 16 KB: 431 in the error shape", async () => {
    const { status, error } = shapedError(await rawExchange(portOf(), `GET /jwks HTTP/1.1\r\nHost: x\r\nCookie: a=${"b".repeat(20_000)}\r\n\r\n`));
    expect(status).toBe(431);
    expect(error.code).toBe("headers_too_large");
  });

  it("malformed requests: 400 in the error shape", async () => {
    for (const request of [
      "POST /dev/id-tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: -1\r\n\r\n{}",
      "POST /dev/id-tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1e3\r\n\r\n{}",
      "NOT-A-METHOD / HTTP/1.1\r\nHost: x\r\n\r\n",
    ]) {
      const { status, error } = shapedError(await rawExchange(portOf(), request));
      expect(status, request.split("\r\n")[0]).toBe(400);
      expect(error.code).toBe("invalid_request");
    }
  });

  it("CONNECT and a Host that names no host: answered in the error shape (once a 500 from oidc-provider, or no answer)", async () => {
    const connectAnswer = shapedError(await rawExchange(portOf(), "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"));
    expect(connectAnswer.status).toBe(405);
    expect(connectAnswer.error.code).toBe("method_not_allowed");
    for (const host of ["[::1", "a b", "x:99999"]) {
      const { status, error } = shapedError(await rawExchange(portOf(), `GET /.well-known/openid-configuration HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`));
      expect(status, host).toBe(400);
      expect(error.code).toBe("invalid_request");
    }
    expect(idp.output()).not.toContain("provider fault");
  });

  it("a request without Host: 400 in the error shape, not Node's bare 400", async () => {
    for (const request of ["GET /.well-known/openid-configuration HTTP/1.1\r\nConnection: close\r\n\r\n", "GET /jwks HTTP/1.0\r\n\r\n", "POST /dev/id-tokens HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"]) {
      const { status, error } = shapedError(await rawExchange(portOf(), request));
      expect(status, request.split("\r\n")[0]).toBe(400);
      expect(error.code).toBe("invalid_request");
      expect(error.message).toMatch(/Host/);
    }
    expect(idp.output()).not.toContain("provider fault");
  });

  it("a path the provider has no route for is a 404 in the error shape, not Koa's text", async () => {
    const res = await fetch(`${idp.url}/api/nothing`, { method: "POST" });
    expect(res.status).toBe(404);
    expect(errorBody.parse(await res.json()).error.code).toBe("not_found");
    // Its protocol errors keep OAuth's shape, which relying parties parse.
    const token = await fetch(`${idp.url}/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "grant_type=nothing" });
    expect(token.status).toBe(400);
    expect(await token.json()).toMatchObject({ error: expect.any(String) });
  });

  it("a declared length over the limit is refused before a byte of the body is sent", async () => {
    const raw = await rawExchange(portOf(), `POST /dev/id-tokens HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${idp.mintSecret}\r\nContent-Type: application/json\r\nContent-Length: ${300 * 1024}\r\n\r\n`);
    const { status, error, head } = shapedError(raw);
    expect(status).toBe(413);
    expect(error.code).toBe("payload_too_large");
    // The body was never read, so the connection cannot carry another request.
    expect(head).toMatch(/\r\nconnection: close/i);
  });

  it("a slow 64 MB chunked body is answered 413 while most of it is unsent, and the provider keeps serving", async () => {
    const total = 64 * 1024 * 1024;
    const { answer, sentWhenAnswered } = await chunkedUntilAnswered(
      portOf(),
      `POST /dev/id-tokens HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${idp.mintSecret}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n`,
      total,
    );
    const { status, error } = shapedError(answer);
    expect(status).toBe(413);
    expect(error.code).toBe("payload_too_large");
    expect(sentWhenAnswered).toBeLessThan(total / 16);

    const after = await fetch(`${idp.url}/jwks`);
    expect(after.status).toBe(200);
    expect(idp.alive()).toBe(true);
  });

  it("a wrong method on its own JSON route is a 405 with Allow", async () => {
    const res = await fetch(`${idp.url}/dev/id-tokens`, { method: "PUT" });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("POST");
    expect(errorBody.parse(await res.json()).error.code).toBe("method_not_allowed");
  });
});
