import { Hono } from "hono";
import type { JsonSchema, OpenApiDocument, OpenApiOperation, OpenApiResponse } from "../../contract/openapi.js";
import { escapeHtml } from "../../http/html.js";
import { edgeApiDocument } from "../openapi.js";

/**
 * The API's description: `GET /api/openapi.json` (OpenAPI 3.1, generated from the contract) and
 * `GET /api/docs`, the same rendered as a plain page on the server. The page loads nothing, runs no
 * script and names no other site: the edge serves no third-party code, and the reference must work on
 * a machine with no network. Both are built once per isolate: they depend on the code alone, not on
 * bindings or time.
 */
export const apiDocsRoutes = new Hono<{ Bindings: Env }>();

let built: { json: string; html: string } | undefined;
function documents() {
  if (!built) {
    const document = edgeApiDocument();
    built = { json: JSON.stringify(document), html: referencePage(document) };
  }
  return built;
}

// Short, like the JWKS: a deployment's new routes reach readers within minutes.
const CACHE = "public, max-age=300";
const PAGE_POLICY = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

apiDocsRoutes.get("/api/openapi.json", (c) => {
  c.header("cache-control", CACHE);
  c.header("content-type", "application/json; charset=utf-8");
  return c.body(documents().json);
});

apiDocsRoutes.get("/api/docs", (c) => {
  c.header("cache-control", CACHE);
  c.header("content-security-policy", PAGE_POLICY);
  c.header("x-content-type-options", "nosniff");
  return c.html(documents().html);
});

/** The document's prose: plain text with `code` spans, as the table writes it. */
const prose = (text: string) => escapeHtml(text).replace(/`([^`]+)`/g, "<code>$1</code>");

const anchor = (text: string) => text.replace(/[^A-Za-z0-9]+/g, "-").replace(/^-|-$/g, "").toLowerCase();
const REF = /^#\/components\/schemas\/(.+)$/;

/** A schema in a table cell: a link to a named one, else its JSON on one line. */
function schemaCell(schema: JsonSchema): string {
  const ref = typeof schema.$ref === "string" ? REF.exec(schema.$ref) : null;
  if (ref) return `<a href="#schema-${anchor(ref[1]!)}">${escapeHtml(ref[1]!)}</a>`;
  return `<code>${escapeHtml(JSON.stringify(schema))}</code>`;
}

function responseCell(response: OpenApiResponse): string {
  const parts: string[] = [];
  const codes = response["x-error-codes"];
  if (codes) parts.push(`<a href="#schema-errorbody">ErrorBody</a>, <code>code</code>: ${codes.map((c) => `<code>${escapeHtml(c)}</code>`).join(" | ")}`);
  else for (const [media, { schema }] of Object.entries(response.content ?? {})) parts.push(`${escapeHtml(media)}${REF.test(String(schema.$ref ?? "")) ? `: ${schemaCell(schema)}` : ""}`);
  for (const [name, header] of Object.entries(response.headers ?? {})) parts.push(`<code>${escapeHtml(name)}</code>: ${prose(header.description)}`);
  return parts.join("<br>");
}

function operationSection(method: string, path: string, op: OpenApiOperation, doc: OpenApiDocument): string {
  const out = [`<section class="op" id="${anchor(op.operationId)}">`, `<h3><span class="method">${method.toUpperCase()}</span> <code>${escapeHtml(path)}</code></h3>`];
  out.push(`<p><strong>${prose(op.summary)}</strong></p>`);
  if (op.description) out.push(`<p>${prose(op.description)}</p>`);
  if (op.security) {
    const ways = op.security.flatMap((req) => Object.keys(req)).map((name) => {
      const scheme = doc.components.securitySchemes[name];
      if (!scheme) return escapeHtml(name);
      const how = scheme.type === "http" ? `<code>Authorization: Bearer</code> (${escapeHtml(scheme.bearerFormat ?? "token")})` : `${scheme.in} <code>${escapeHtml(scheme.name)}</code>`;
      return `${how}: ${prose(scheme.description)}`;
    });
    out.push(`<p>Credential, one of:</p><ul>${ways.map((w) => `<li>${w}</li>`).join("")}</ul>`);
  }
  if (op.parameters?.length) {
    out.push("<table><caption>Parameters</caption><tr><th>name</th><th>in</th><th>required</th><th>schema</th><th>meaning</th></tr>");
    for (const p of op.parameters) {
      out.push(`<tr><td><code>${escapeHtml(p.name)}</code></td><td>${p.in}</td><td>${p.required ? "yes" : "no"}</td><td>${schemaCell(p.schema)}</td><td>${prose(p.description)}${p.example ? ` (e.g. <code>${escapeHtml(p.example)}</code>)` : ""}</td></tr>`);
    }
    out.push("</table>");
  }
  if (op.requestBody) {
    const json = op.requestBody.content["application/json"];
    out.push(`<p>Body (application/json): ${json ? schemaCell(json.schema) : ""}. ${prose(op.requestBody.description)}</p>`);
  }
  out.push("<table><caption>Answers</caption><tr><th>status</th><th>meaning</th><th>body and headers</th></tr>");
  for (const [status, response] of Object.entries(op.responses)) {
    out.push(`<tr><td>${escapeHtml(status)}</td><td>${prose(response.description)}</td><td>${responseCell(response)}</td></tr>`);
  }
  out.push("</table></section>");
  return out.join("\n");
}

/** The reference page: operations grouped by tag, then every named schema as JSON. */
export function referencePage(doc: OpenApiDocument): string {
  const byTag = new Map<string, string[]>();
  const contents = new Map<string, string[]>();
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const tag = op.tags[0] ?? "Other";
      (byTag.get(tag) ?? byTag.set(tag, []).get(tag)!).push(operationSection(method, path, op, doc));
      (contents.get(tag) ?? contents.set(tag, []).get(tag)!).push(`<li><a href="#${anchor(op.operationId)}"><code>${method.toUpperCase()} ${escapeHtml(path)}</code></a> ${prose(op.summary)}</li>`);
    }
  }
  const tags = doc.tags.filter((t) => byTag.has(t.name));
  const sections = tags.map((t) => `<section id="tag-${anchor(t.name)}"><h2>${escapeHtml(t.name)}</h2><p>${prose(t.description)}</p>\n${byTag.get(t.name)!.join("\n")}</section>`);
  const shared = Object.entries(doc.components.responses).map(([name, r]) => `<tr><td>${escapeHtml(name)}</td><td>${prose(r.description)}</td><td>${responseCell(r)}</td></tr>`);
  const schemas = Object.entries(doc.components.schemas).map(
    ([name, schema]) => `<section id="schema-${anchor(name)}"><h3>${escapeHtml(name)}</h3><pre>${escapeHtml(JSON.stringify(schema, null, 2))}</pre></section>`,
  );
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(doc.info.title)}</title>
<style>
body{font:16px/1.5 system-ui,sans-serif;margin:0 auto;padding:1rem 1.5rem;max-width:60rem;color:#1f2328}
code,pre{font:14px/1.4 ui-monospace,monospace}pre{background:#f6f8fa;padding:.75rem;overflow:auto}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}caption{text-align:left;font-weight:600}
th,td{border:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top;overflow-wrap:anywhere}
.op{border-top:1px solid #d0d7de;margin-top:1.5rem}.method{background:#0550ae;color:#fff;padding:0 .4rem;border-radius:3px}
a{color:#0550ae}
</style>
</head>
<body>
<header><h1>${escapeHtml(doc.info.title)}</h1><p>${prose(doc.info.description)}</p>
<p>OpenAPI ${escapeHtml(doc.openapi)}, version ${escapeHtml(doc.info.version)}: <a href="/api/openapi.json">/api/openapi.json</a>.</p></header>
<nav><h2>Contents</h2>${tags.map((t) => `<h3><a href="#tag-${anchor(t.name)}">${escapeHtml(t.name)}</a></h3><ul>${contents.get(t.name)!.join("")}</ul>`).join("\n")}
<p><a href="#errors">Answers on any path</a> · <a href="#schemas">Schemas</a></p></nav>
<main>
${sections.join("\n")}
<section id="errors"><h2>Answers on any path</h2><table><tr><th>name</th><th>meaning</th><th>body</th></tr>${shared.join("")}</table></section>
<section id="schemas"><h2>Schemas</h2>${schemas.join("\n")}</section>
</main>
</body>
</html>`;
}
