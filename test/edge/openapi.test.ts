import { Validator, type OutputUnit } from "@cfworker/json-schema";
import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { HttpMethod, JsonSchema, OpenApiDocument } from "../../src/contract/openapi.js";
import { createEdgeApp } from "../../src/edge/app.js";
import { newTicketId } from "../../src/edge/tokens/ticket.js";
import { signPass } from "../../src/edge/tokens/pass.js";
import { mintOperatorSession } from "../../src/edge/operators/operator-tokens.js";
import { CLOSED_BIRTH_DATE, config, getStatus, idToken, join, ORIGIN, postJoin, randomIdentity } from "./helpers.js";

/*
 * The API document (/api/openapi.json) against the edge itself: every route the app registers is in it
 * and every path in it is served, and real answers, good and bad, are what it says for their status.
 * The validator is @cfworker/json-schema, which interprets JSON Schema 2020-12 rather than compiling it
 * into functions, so it runs here in workerd (which forbids code generation, and so ajv).
 */

const DOC_URI = `${ORIGIN}/api/openapi.json`;

let doc: OpenApiDocument;
beforeAll(async () => {
  const res = await SELF.fetch(DOC_URI);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toContain("application/json");
  doc = (await res.json()) as OpenApiDocument;
});

/** A path with its parameters written alike, `/api/cohorts/{}/draw`, whether Hono's (`:id`, `*`) or OpenAPI's (`{id}`). */
const pathShape = (path: string) => path.replace(/\{[^}]+\}|:[^/]+|\*/g, "{}");

const pointer = (...parts: string[]) => parts.map((p) => `/${p.replace(/~/g, "~0").replace(/\//g, "~1")}`).join("");

/** Where, in the document, the schema of a JSON answer lives: an operation's answer, or a shared one. */
function answerPointer(where: { path: string; method: HttpMethod } | { shared: string }, status: number): string {
  if ("shared" in where) return pointer("components", "responses", where.shared, "content", "application/json", "schema");
  const operation = doc.paths[where.path]?.[where.method];
  if (!operation) throw new Error(`the document has no ${where.method.toUpperCase()} ${where.path}`);
  if (!operation.responses[status]) throw new Error(`the document gives ${where.method.toUpperCase()} ${where.path} no ${status} answer`);
  return pointer("paths", where.path, where.method, "responses", String(status), "content", "application/json", "schema");
}

/** The validator's complaints about `body` against the schema at `at` (a JSON pointer into the document). */
function violations(at: string, body: unknown): OutputUnit[] {
  const validator = new Validator({ $ref: `${DOC_URI}#${at}` }, "2020-12", false);
  // The document itself is the schema's home, so its `#/components/schemas/…` references resolve.
  validator.addSchema(structuredClone(doc) as unknown as JsonSchema, DOC_URI);
  return validator.validate(body).errors;
}

/** Asserts that `res` is a JSON answer the document describes for its status, and returns its body. */
async function expectDocumented(res: Response, where: { path: string; method: HttpMethod } | { shared: string }, status: number): Promise<unknown> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(res.headers.get("content-type")).toContain("application/json");
  const body: unknown = JSON.parse(text);
  expect(violations(answerPointer(where, status), body), text).toEqual([]);
  return body;
}

async function asOperator(path: string): Promise<Response> {
  const session = await mintOperatorSession(config.operators.localSecret!);
  return SELF.fetch(`${ORIGIN}${path}`, { headers: { cookie: `wr_operator=${session}` } });
}

describe("the document and the app's routes", () => {
  it("lists every route the edge registers, and nothing it does not", () => {
    const registered = createEdgeApp()
      .routes.filter((r) => r.method !== "ALL")
      .map((r) => `${r.method} ${pathShape(r.path)}`);
    const documented = Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${pathShape(path)}`));
    expect(registered.length).toBeGreaterThan(15);
    expect(new Set(documented)).toEqual(new Set(registered));
    expect(documented).toHaveLength(new Set(documented).size);
  });

  // Values for the path parameters that reach each route (the draw needs a cohort with a pre-queue).
  const pathValues: Record<string, Record<string, string>> = { "/api/cohorts/{id}/draw": { id: "pq-now" }, "/api/bookings/{id}": { id: "b-1" } };
  // A sign-in refused before the provider is asked: there is none to ask here.
  const queries: Record<string, string> = { "/auth/login": "?lang=xx" };

  it("is served at every documented path and method: the route answers, never the not-found handler", async () => {
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        const url = path.replace(/\{([^}]+)\}/g, (_, name: string) => {
          const value = pathValues[path]?.[name] ?? operation.parameters?.find((p) => p.name === name)?.example;
          if (value === undefined) throw new Error(`no value for {${name}} in ${path}`);
          return encodeURIComponent(value);
        });
        const res = await SELF.fetch(`${ORIGIN}${url}${queries[path] ?? ""}`, { method: method.toUpperCase(), headers: { "cf-connecting-ip": "2001:db8::1" } });
        const where = `${method.toUpperCase()} ${url}: ${res.status}`;
        expect([404, 405], where).not.toContain(res.status);
        // Whatever it answered (a 401 without a credential, mostly), the document says so for this operation.
        expect(Object.keys(operation.responses), where).toContain(String(res.status));
        if ((res.headers.get("content-type") ?? "").includes("application/json")) {
          expect(violations(answerPointer({ path, method: method as HttpMethod }, res.status), await res.json()), where).toEqual([]);
        } else {
          await res.body?.cancel();
        }
      }
    }
  });
});

describe("answers match the document", () => {
  it("joining with an id_token, and the status that follows", async () => {
    const res = await postJoin({ idToken: await idToken(randomIdentity()) });
    const joined = (await expectDocumented(res, { path: "/api/queue/join", method: "post" }, 200)) as { ticket: string };
    await expectDocumented(await getStatus(joined.ticket), { path: "/api/queue/status", method: "get" }, 200);
  });

  it("an admitted status carrying a pass, and the booking gate passing it on to an origin that is not there", async () => {
    // The only test here in this cohort, so its citizen is first in an empty line and admitted at once.
    const { ticket } = await join(randomIdentity(), "1967-03-01");
    let res = await getStatus(ticket);
    let answer = (await expectDocumented(res, { path: "/api/queue/status", method: "get" }, 200)) as { state: string; pass?: string };
    for (let i = 0; i < 20 && answer.state !== "admitted"; i++) {
      await new Promise((r) => setTimeout(r, 250));
      res = await getStatus(ticket);
      answer = (await expectDocumented(res, { path: "/api/queue/status", method: "get" }, 200)) as typeof answer;
    }
    expect(answer.pass).toBeTypeOf("string");
    // Nothing listens at the tests' ORIGIN_URL: the gate's answer is its retryable 503.
    const slots = await SELF.fetch(`${ORIGIN}/api/slots?region=11`, { headers: { authorization: `Bearer ${answer.pass}` } });
    await expectDocumented(slots, { path: "/api/slots", method: "get" }, 503);
  });

  it("the join's refusals: 400, 401, 403, 409, 413, 415", async () => {
    const at = { path: "/api/queue/join", method: "post" } as const;
    await expectDocumented(await postJoin("{not json"), at, 400);
    await expectDocumented(await postJoin({ identity: "someone" }), at, 400);
    await expectDocumented(await postJoin({ idToken: "not.a.token" }), at, 401);
    await expectDocumented(await postJoin({ idToken: await idToken(randomIdentity(), "2001-01-01") }), at, 403);
    const closed = (await expectDocumented(await postJoin({ idToken: await idToken(randomIdentity(), CLOSED_BIRTH_DATE) }), at, 409)) as { error: { opensAt?: string } };
    expect(closed.error.opensAt).toBeTypeOf("string");
    await expectDocumented(await postJoin({ idToken: "x".repeat(9_000) }), at, 413);
    await expectDocumented(await postJoin(JSON.stringify({ idToken: "x" }), { headers: { "content-type": "text/plain" } }), at, 415);
  });

  it("the status's refusals: 401 without a ticket, 429 past the poll limit", async () => {
    const at = { path: "/api/queue/status", method: "get" } as const;
    await expectDocumented(await SELF.fetch(`${ORIGIN}/api/queue/status`), at, 401);
    const { ticket } = await join(randomIdentity());
    // POLL_LIMIT is 30 polls a ticket per 10 s, in windows aligned to the wall clock: polls that straddle a
    // window's end may have up to 30 answered in each, so up to 61 are sent, and they take far less than 10 s.
    let answered = 0;
    let res = await getStatus(ticket);
    while (res.status === 200 && answered < 60) {
      answered++;
      await res.body?.cancel();
      res = await getStatus(ticket);
    }
    await expectDocumented(res, at, 429);
    expect(answered).toBeGreaterThanOrEqual(30);
  });

  it("the notification routes: the key, and a subscription refused without a ticket or with a bad one", async () => {
    await expectDocumented(await SELF.fetch(`${ORIGIN}/api/push/key`), { path: "/api/push/key", method: "get" }, 200);
    const at = { path: "/api/queue/push-subscription", method: "put" } as const;
    const put = (body: unknown, headers: Record<string, string> = {}) =>
      SELF.fetch(`${ORIGIN}/api/queue/push-subscription`, { method: "PUT", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
    const body = { subscription: { endpoint: "https://push.example.net/x", keys: { p256dh: `B${"A".repeat(86)}`, auth: "A".repeat(22) } }, lang: "en" };
    await expectDocumented(await put(body), at, 401);
    // The body is checked before the ticket.
    await expectDocumented(await put({ ...body, lang: "xx" }), at, 400);
  });

  it("the cohorts, the keys and the draws", async () => {
    await expectDocumented(await SELF.fetch(`${ORIGIN}/api/cohorts`), { path: "/api/cohorts", method: "get" }, 200);
    await expectDocumented(await SELF.fetch(`${ORIGIN}/.well-known/jwks.json`), { path: "/.well-known/jwks.json", method: "get" }, 200);
    const draw = { path: "/api/cohorts/{id}/draw", method: "get" } as const;
    await expectDocumented(await SELF.fetch(`${ORIGIN}/api/cohorts/pq-now/draw`), draw, 200);
    await expectDocumented(await SELF.fetch(`${ORIGIN}/api/cohorts/pq-later/draw`), draw, 409);
    await expectDocumented(await SELF.fetch(`${ORIGIN}/api/cohorts/55-59/draw`), draw, 404);
  });

  it("the operators' API, with and without an operator's credential", async () => {
    await expectDocumented(await asOperator("/api/ops/queue"), { path: "/api/ops/queue", method: "get" }, 200);
    await expectDocumented(await SELF.fetch(`${ORIGIN}/api/ops/queue`), { path: "/api/ops/queue", method: "get" }, 401);
    const history = { path: "/api/ops/cohorts/{id}/history", method: "get" } as const;
    await join(randomIdentity());
    await expectDocumented(await asOperator("/api/ops/cohorts/55-59/history?minutes=5"), history, 200);
    await expectDocumented(await asOperator("/api/ops/cohorts/55-59/history?minutes=0"), history, 400);
    await expectDocumented(await asOperator("/api/ops/cohorts/no-such/history"), history, 404);
  });

  it("the booking gate without a pass", async () => {
    await expectDocumented(await SELF.fetch(`${ORIGIN}/api/slots`), { path: "/api/slots", method: "get" }, 401);
    const res = await SELF.fetch(`${ORIGIN}/api/bookings`, { method: "POST", headers: { authorization: "Basic x", "content-type": "application/json" }, body: "{}" });
    await expectDocumented(res, { path: "/api/bookings", method: "post" }, 401);
  });

  it("the booking gate's refusals with a pass: 400 for a bad query, 429 past the pass's limit", async () => {
    const now = Math.floor(Date.now() / 1000);
    const pass = await signPass(config, { sub: "d".repeat(43), jti: newTicketId(), cohort: "55-59", shard: 0, seq: 1, iat: now, exp: now + 600 });
    const at = { path: "/api/slots", method: "get" } as const;
    // A query the edge refuses itself: no origin is needed, and each still counts against the pass.
    const read = () => SELF.fetch(`${ORIGIN}/api/slots?region=99`, { headers: { authorization: `Bearer ${pass}` } });
    await expectDocumented(await read(), at, 400);
    const dates = await SELF.fetch(`${ORIGIN}/api/slots/dates?region=99`, { headers: { authorization: `Bearer ${pass}` } });
    await expectDocumented(dates, { path: "/api/slots/dates", method: "get" }, 400);
    let res = await read();
    for (let reads = 2; res.status === 400 && reads <= 70; reads++) {
      await res.body?.cancel();
      res = await read();
    }
    await expectDocumented(res, at, 429);
  });

  it("answers on any path: 404 for an unknown one, 405 for a wrong method", async () => {
    await expectDocumented(await SELF.fetch(`${ORIGIN}/api/no-such-thing`), { shared: "NotFound" }, 404);
    const res = await SELF.fetch(`${ORIGIN}/api/openapi.json`, { method: "POST" });
    expect(res.headers.get("allow")).toBe("GET, HEAD");
    await expectDocumented(res, { shared: "MethodNotAllowed" }, 405);
    await expectDocumented(await SELF.fetch(`${ORIGIN}/api/docs`, { method: "DELETE" }), { shared: "MethodNotAllowed" }, 405);
  });

  it("the document's schemas refuse an answer that differs from the contract", async () => {
    const res = await postJoin({ idToken: await idToken(randomIdentity()) });
    const { previousPlaceExpired, ...rest } = (await res.json()) as { previousPlaceExpired: boolean };
    const at = answerPointer({ path: "/api/queue/join", method: "post" }, 200);
    expect(violations(at, { ...rest, previousPlaceExpired })).toEqual([]);
    // A renamed field is both a missing one and an unknown one.
    expect(violations(at, { ...rest, previousPlaceLapsed: previousPlaceExpired })).not.toEqual([]);
    // An error whose code the operation does not list for that status.
    const conflict = answerPointer({ path: "/api/queue/join", method: "post" }, 409);
    expect(violations(conflict, { error: { code: "cohort_not_open", message: "m" } })).toEqual([]);
    expect(violations(conflict, { error: { code: "slot_full", message: "m" } })).not.toEqual([]);
  });
});

describe("the document's structure", () => {
  it("is OpenAPI 3.1: info, paths of operations with answers, components, and references that resolve", () => {
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    expect(doc.info.title).toBeTruthy();
    expect(doc.info.version).toBeTruthy();
    const tags = new Set(doc.tags.map((t) => t.name));
    const ids = new Set<string>();
    for (const [path, item] of Object.entries(doc.paths)) {
      expect(path.startsWith("/")).toBe(true);
      for (const [method, op] of Object.entries(item)) {
        expect(["get", "post", "put", "patch", "delete"]).toContain(method);
        expect(ids.has(op.operationId), op.operationId).toBe(false);
        ids.add(op.operationId);
        expect(op.tags.every((t) => tags.has(t)), `${path} tags`).toBe(true);
        expect(Object.keys(op.responses).length).toBeGreaterThan(0);
        for (const status of Object.keys(op.responses)) expect(status).toMatch(/^[1-5]\d\d$/);
        // Every {param} in the path is declared, as a required path parameter.
        for (const [, name] of path.matchAll(/\{([^}]+)\}/g)) {
          expect(op.parameters?.find((p) => p.name === name && p.in === "path")?.required, `${path} {${name}}`).toBe(true);
        }
        for (const requirement of op.security ?? []) for (const scheme of Object.keys(requirement)) expect(doc.components.securitySchemes).toHaveProperty(scheme);
      }
    }
    const refs = JSON.stringify(doc).match(/"\$ref":"[^"]+"/g) ?? [];
    expect(refs.length).toBeGreaterThan(10);
    for (const ref of refs) {
      const name = /#\/components\/schemas\/([^"]+)"$/.exec(ref)?.[1];
      expect(name && doc.components.schemas[name], ref).toBeTruthy();
    }
  });

  it("is cacheable", async () => {
    const res = await SELF.fetch(DOC_URI);
    expect(res.headers.get("cache-control")).toMatch(/^public, max-age=\d+$/);
    await res.body?.cancel();
  });
});

describe("the reference page", () => {
  it("shows every operation, its answers and error codes, as plain HTML that loads nothing", async () => {
    const res = await SELF.fetch(`${ORIGIN}/api/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/html");
    expect(res.headers.get("content-security-policy")).toContain("default-src 'none'");
    const html = await res.text();
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const method of Object.keys(item)) expect(html).toContain(`<span class="method">${method.toUpperCase()}</span> <code>${path}</code>`);
    }
    for (const name of Object.keys(doc.components.schemas)) expect(html).toContain(`id="schema-${name.toLowerCase()}"`);
    expect(html).toContain("<code>cohort_not_open</code>");
    expect(html).not.toMatch(/<script|<link|<img|src=|https?:\/\/(?!json-schema\.org)/i);
  });
});
