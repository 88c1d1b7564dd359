import { z } from "zod";
import { errorBody, type ErrorCode } from "./errors.js";

/**
 * An OpenAPI 3.1 document built from the contract's zod schemas. OpenAPI 3.1 schemas are JSON Schema
 * 2020-12, which is what zod 4's `z.toJSONSchema` writes, so every request and answer in the document is
 * the very schema the code parses or types its answers with: the document cannot say one thing while the
 * code does another. What zod cannot know (paths, methods, which errors a route gives, how a caller
 * proves who it is) comes from a table of operations that each app describing itself writes
 * (src/edge/openapi.ts for the edge).
 */

export type HttpMethod = "get" | "post" | "put" | "patch" | "delete";

/** An answer an operation gives with one status. */
export interface ResponseSpec {
  description: string;
  /** A JSON body, by a schema named in the spec's `schemas`. */
  body?: z.ZodType;
  /** An error status: the body is the one error shape, with `code` one of these. */
  errors?: readonly ErrorCode[];
  /** A body that is not JSON (a page, a file), by media type. */
  media?: string;
  /** Response headers worth knowing, by name: what each says. */
  headers?: Record<string, string>;
}

export interface ParameterSpec {
  name: string;
  in: "path" | "query" | "header";
  description: string;
  required?: boolean;
  schema: z.ZodType;
  example?: string;
}

export interface OperationSpec {
  method: HttpMethod;
  /** In OpenAPI's form, `/api/cohorts/{id}/draw`. */
  path: string;
  operationId: string;
  tag: string;
  summary: string;
  description?: string;
  /** Alternatives: any one of these security schemes is enough. Absent: anyone may call it. */
  security?: readonly string[];
  parameters?: readonly ParameterSpec[];
  requestBody?: { description: string; schema: z.ZodType };
  responses: Record<number, ResponseSpec>;
}

/** Error answers every operation can give, whatever the route (an app-wide middleware gives them). */
export interface CommonError {
  status: number;
  description: string;
  codes: readonly ErrorCode[];
  /** Only for operations that take a request body. */
  withBody?: boolean;
}

export interface ApiSpec {
  title: string;
  version: string;
  description: string;
  tags: ReadonlyArray<{ name: string; description: string }>;
  securitySchemes: Record<string, SecurityScheme>;
  /** The named schemas (components), by the name the document gives them. */
  schemas: Record<string, z.ZodType>;
  commonErrors: readonly CommonError[];
  /** Answers not tied to one operation (404 for an unknown path, 405 for a wrong method), by component name. */
  sharedResponses: Record<string, { description: string; errors: readonly ErrorCode[] }>;
  operations: readonly OperationSpec[];
}

export type SecurityScheme =
  | { type: "apiKey"; in: "cookie" | "header"; name: string; description: string }
  | { type: "http"; scheme: "bearer"; bearerFormat?: string; description: string };

/** A JSON Schema as it appears in the document: plain JSON, read by renderers and validators. */
export type JsonSchema = { [key: string]: unknown };

export interface OpenApiDocument {
  openapi: "3.1.0";
  info: { title: string; version: string; description: string };
  tags: Array<{ name: string; description: string }>;
  paths: Record<string, Partial<Record<HttpMethod, OpenApiOperation>>>;
  components: {
    schemas: Record<string, JsonSchema>;
    responses: Record<string, OpenApiResponse>;
    securitySchemes: Record<string, SecurityScheme>;
  };
}

export interface OpenApiOperation {
  operationId: string;
  tags: string[];
  summary: string;
  description?: string;
  security?: Array<Record<string, string[]>>;
  parameters?: Array<{ name: string; in: string; description: string; required: boolean; schema: JsonSchema; example?: string }>;
  requestBody?: { description: string; required: true; content: Record<string, { schema: JsonSchema }> };
  responses: Record<string, OpenApiResponse>;
}

export interface OpenApiResponse {
  description: string;
  headers?: Record<string, { description: string; schema: JsonSchema }>;
  content?: Record<string, { schema: JsonSchema }>;
  /** The error codes this answer can carry, for readers; the schema says the same to validators. */
  "x-error-codes"?: string[];
}

const ERROR_BODY = "ErrorBody";
const componentRef = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/** A zod schema as plain JSON Schema, without the per-document keys that do not belong inside OpenAPI's. */
function jsonSchemaOf(schema: z.ZodType): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { unrepresentable: "any" }) as JsonSchema;
  return rest;
}

/** The error shape with `code` narrowed to what this answer can carry, so a validator holds us to the list. */
function errorSchema(codes: readonly ErrorCode[]): JsonSchema {
  return {
    allOf: [componentRef(ERROR_BODY)],
    properties: { error: { properties: { code: { enum: [...codes] } } } },
  };
}

function errorResponse(description: string, codes: readonly ErrorCode[]): OpenApiResponse {
  return { description, content: { "application/json": { schema: errorSchema(codes) } }, "x-error-codes": [...codes] };
}

/** Builds the document. Throws (at build, which the tests run) for a body schema the spec does not name. */
export function openApiDocument(spec: ApiSpec): OpenApiDocument {
  // The named schemas go through one registry, so a schema used inside another (a queue status inside a
  // join answer) is one `$ref`, not a copy.
  const registry = z.registry<{ id: string }>();
  const names = new Map<z.ZodType, string>();
  for (const [name, schema] of Object.entries({ [ERROR_BODY]: errorBody, ...spec.schemas })) {
    registry.add(schema, { id: name });
    names.set(schema, name);
  }
  const generated = z.toJSONSchema(registry, { uri: (id) => `#/components/schemas/${id}`, unrepresentable: "any" });
  const schemas: Record<string, JsonSchema> = {};
  for (const [name, schema] of Object.entries(generated.schemas)) {
    // `$id` here would be a URI with a fragment, which 2020-12 forbids; the component's place names it.
    const { $schema: _dialect, $id: _id, ...rest } = schema as JsonSchema;
    schemas[name] = rest;
  }
  const named = (schema: z.ZodType, where: string): JsonSchema => {
    const name = names.get(schema);
    if (name === undefined) throw new Error(`${where}: its schema is not among the document's named schemas`);
    return componentRef(name);
  };

  const paths: OpenApiDocument["paths"] = {};
  for (const op of spec.operations) {
    const where = `${op.method.toUpperCase()} ${op.path}`;
    const responses: Record<string, OpenApiResponse> = {};
    const commons = spec.commonErrors.filter((e) => !e.withBody || op.requestBody !== undefined);
    const statuses = new Set([...Object.keys(op.responses).map(Number), ...commons.map((e) => e.status)]);
    for (const status of [...statuses].sort((a, b) => a - b)) {
      const own = op.responses[status];
      const common = commons.filter((e) => e.status === status);
      if (own !== undefined && own.errors === undefined) {
        const response: OpenApiResponse = { description: own.description };
        if (own.body) response.content = { "application/json": { schema: named(own.body, where) } };
        // A page is text; a file or a document described elsewhere is whatever it is.
        else if (own.media) response.content = { [own.media]: { schema: own.media.startsWith("text/") ? { type: "string" } : {} } };
        if (own.headers) response.headers = headerObjects(own.headers);
        responses[status] = response;
        continue;
      }
      const codes = [...new Set([...(own?.errors ?? []), ...common.flatMap((e) => e.codes)])];
      const description = [own?.description, ...common.map((e) => e.description)].filter(Boolean).join("; ");
      const response = errorResponse(description, codes);
      if (own?.headers) response.headers = headerObjects(own.headers);
      responses[status] = response;
    }
    const operation: OpenApiOperation = { operationId: op.operationId, tags: [op.tag], summary: op.summary, responses };
    if (op.description) operation.description = op.description;
    if (op.security) operation.security = op.security.map((name) => ({ [name]: [] }));
    if (op.parameters) {
      operation.parameters = op.parameters.map((p) => ({
        name: p.name,
        in: p.in,
        description: p.description,
        // Path parameters are always required (OpenAPI says so); others say.
        required: p.in === "path" || p.required === true,
        schema: jsonSchemaOf(p.schema),
        ...(p.example === undefined ? {} : { example: p.example }),
      }));
    }
    if (op.requestBody) {
      operation.requestBody = {
        description: op.requestBody.description,
        required: true,
        content: { "application/json": { schema: named(op.requestBody.schema, where) } },
      };
    }
    (paths[op.path] ??= {})[op.method] = operation;
  }

  const responses: Record<string, OpenApiResponse> = {};
  for (const [name, shared] of Object.entries(spec.sharedResponses)) responses[name] = errorResponse(shared.description, shared.errors);

  return {
    openapi: "3.1.0",
    info: { title: spec.title, version: spec.version, description: spec.description },
    tags: spec.tags.map((t) => ({ ...t })),
    paths,
    components: { schemas, responses, securitySchemes: spec.securitySchemes },
  };
}

function headerObjects(headers: Record<string, string>): NonNullable<OpenApiResponse["headers"]> {
  return Object.fromEntries(Object.entries(headers).map(([name, description]) => [name, { description, schema: { type: "string" } }]));
}
