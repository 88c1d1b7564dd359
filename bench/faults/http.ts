/**
 * Every request the fault suite makes goes through here, so every answer is counted the same way: a
 * 5xx is either the designed one (503 `unavailable` in the JSON error shape, with Retry-After: a
 * dependency is down and the client is told when to come back) or a failure of the project (any other
 * 5xx, including a 503 without the shape). A request that got no answer at all (refused, reset, timed
 * out) is not an answer and is counted apart.
 */
import { errorBody } from "../../src/contract/errors.js";

/** The 5xx answers kept as examples in the results, per scenario. */
const MAX_SAMPLES = 12;

export class Tally {
  requests = 0;
  /** Answers by status code. */
  readonly byStatus: Record<string, number> = {};
  /** 5xx answers that are not the designed 503: failures. */
  project5xx = 0;
  /** 503 `unavailable` in the error shape with Retry-After: what the design answers while a dependency is down. */
  unavailable503 = 0;
  /** Requests that got no HTTP answer (connection refused or reset, timeout), by cause. */
  readonly noAnswer: Record<string, number> = {};
  readonly samples5xx: string[] = [];
  /** A few designed 503s, to tell which dependency was down. */
  readonly samples503: string[] = [];

  /** Counts one HTTP answer; `body` is its text (possibly cut short). */
  answer(what: string, status: number, retryAfter: string | null, body: string): void {
    this.requests++;
    this.byStatus[status] = (this.byStatus[status] ?? 0) + 1;
    if (status < 500) return;
    if (isDesignedUnavailable(status, retryAfter, body)) {
      this.unavailable503++;
      if (this.samples503.length < 4) this.samples503.push(`${what} -> ${body.slice(0, 200)}`);
      return;
    }
    this.project5xx++;
    if (this.samples5xx.length < MAX_SAMPLES) this.samples5xx.push(`${what} -> ${status} ${body.slice(0, 300)}`);
  }

  failure(cause: string): void {
    this.requests++;
    this.noAnswer[cause] = (this.noAnswer[cause] ?? 0) + 1;
  }

  get noAnswers(): number {
    return Object.values(this.noAnswer).reduce((a, b) => a + b, 0);
  }
}

/** A 503 in the one error shape, code `unavailable`, telling the client when to retry (header and field). */
export function isDesignedUnavailable(status: number, retryAfter: string | null, body: string): boolean {
  if (status !== 503 || retryAfter === null || !/^\d+$/.test(retryAfter.trim())) return false;
  const parsed = errorBody.safeParse(parseJson(body));
  return parsed.success && parsed.data.error.code === "unavailable";
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

export type Answer = { ok: true; status: number; headers: Headers; text: string; json: unknown } | { ok: false; cause: string };

export interface CallOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  timeoutMs?: number;
}

/** A request through fetch, counted in `tally`; never throws. */
export async function call(tally: Tally, url: string, options: CallOptions = {}): Promise<Answer> {
  const method = options.method ?? "GET";
  const what = `${method} ${new URL(url).pathname}`;
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: options.headers,
      body: options.body,
      redirect: "manual",
      signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
    });
  } catch (err) {
    tally.failure(causeOf(err));
    return { ok: false, cause: causeOf(err) };
  }
  let text: string;
  try {
    text = await res.text();
  } catch (err) {
    // Headers came, the body did not: the server answered, then the connection broke.
    tally.answer(what, res.status, res.headers.get("retry-after"), "");
    return { ok: false, cause: `body: ${causeOf(err)}` };
  }
  tally.answer(what, res.status, res.headers.get("retry-after"), text);
  return { ok: true, status: res.status, headers: res.headers, text, json: parseJson(text) };
}

/** The innermost cause's code or name: ECONNREFUSED, ECONNRESET, TimeoutError, UND_ERR_SOCKET... */
export function causeOf(err: unknown): string {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && e instanceof Error && e.cause !== undefined; depth++) e = e.cause;
  if (typeof e === "object" && e !== null && "code" in e && typeof e.code === "string") return e.code;
  if (e instanceof Error) return e.name === "Error" ? e.message.slice(0, 60) : e.name;
  return String(e).slice(0, 60);
}
