/**
 * The load generator, run as its own process by bench/lib/load.ts (never imported): autocannon against
 * one URL on 127.0.0.1, bounded by a duration, an optional request count and a per-request timeout.
 * A load with a count stops at the count or at the duration, whichever comes first, and says which.
 * Given a list of bodies, each request sends the next one (a different pre-minted id_token per join: a
 * token cannot be templated, it is signed). `{{n}}` in the body or a header becomes a number unique to
 * the request; `{{v}}` becomes the next of the given values in turn (a ticket per poll, a pass per
 * booking), and `{{slot}}` the next of a range of slot ids; a path template gets the same. Prints one JSON line with the counts;
 * bench/lib/load.ts reads it.
 *
 *   node --import tsx bench/lib/load-child.ts <spec.json>
 */
import { readFileSync } from "node:fs";
import autocannon from "autocannon";
import type { LoadResult, LoadSpec } from "./load.js";

const spec = JSON.parse(readFileSync(process.argv[2]!, "utf8")) as LoadSpec;
const target = new URL(spec.url);
if (target.hostname !== "127.0.0.1") throw new Error(`load goes to 127.0.0.1 only, not ${target.hostname}`);
const values: string[] = spec.valuesFile ? (JSON.parse(readFileSync(spec.valuesFile, "utf8")) as string[]) : [];
const bodies: string[] | undefined = spec.bodiesFile ? (JSON.parse(readFileSync(spec.bodiesFile, "utf8")) as string[]) : undefined;

let n = 0;
const fill = (text: string, i: number) =>
  text
    .replaceAll("{{n}}", String(i))
    .replaceAll("{{v}}", values.length ? values[i % values.length]! : "")
    .replaceAll("{{slot}}", spec.slots ? String(spec.slots.first + (i % spec.slots.count)) : "");
const varies = bodies !== undefined || spec.pathTemplate !== undefined || [spec.body ?? "", ...Object.values(spec.headers ?? {})].some((t) => t.includes("{{"));
const bodyFor = (i: number): string | undefined => (bodies ? bodies[i % bodies.length]! : spec.body !== undefined ? fill(spec.body, i) : undefined);

const options: autocannon.Options = {
  url: spec.url,
  method: spec.method,
  connections: spec.connections,
  duration: spec.durationSeconds,
  ...(spec.amount ? { amount: spec.amount } : {}),
  timeout: spec.timeoutSeconds,
  headers: spec.headers ?? {},
  ...(bodies ? { body: bodies[0]! } : spec.body !== undefined ? { body: spec.body } : {}),
  ...(varies
    ? {
        requests: [
          {
            setupRequest: (request) => {
              const i = (spec.firstIndex ?? 0) + n++;
              const headers = Object.fromEntries(Object.entries(spec.headers ?? {}).map(([k, v]) => [k, fill(v, i)]));
              const body = bodyFor(i);
              return {
                ...request,
                headers,
                ...(body !== undefined ? { body } : {}),
                ...(spec.pathTemplate !== undefined ? { path: fill(spec.pathTemplate, i) } : {}),
              };
            },
          },
        ],
      }
    : {}),
};

/*
 * autocannon ignores `duration` once `amount` is set: a count the target cannot reach in time would run
 * until load.ts kills this process, and every count of the load would be lost with it. So the time bound
 * is kept here: the instance is stopped when the duration is up (it notices within its 1 s sampling
 * tick) and answers with what it got.
 */
let stoppedAtTimeBound = false;
/*
 * autocannon ends a load only at its next 1 s sampling tick, and its `duration` runs to that tick: a
 * load that made its count would stand idle for up to a second of its measured time, and its rate come
 * out as the count over a whole number of seconds. Such a load is timed to its last answer instead; one
 * bounded by time ran, and was counted, up to the tick.
 */
let lastAnswerAt = 0;
// This process's own CPU over the load alone (not its start, which compiles this file).
const cpuAtStart = process.cpuUsage();
const result = await new Promise<autocannon.Result>((resolve, reject) => {
  let timeBound: NodeJS.Timeout | undefined;
  const instance = autocannon(options, (err, r) => {
    clearTimeout(timeBound);
    if (err) reject(err instanceof Error ? err : new Error(String(err)));
    else resolve(r);
  });
  const answered = () => (lastAnswerAt = Date.now());
  instance.on("response", answered);
  instance.on("reqError", answered);
  if (spec.amount) {
    timeBound = setTimeout(() => {
      stoppedAtTimeBound = true;
      instance.stop();
    }, spec.durationSeconds * 1000);
  }
});

const cpu = process.cpuUsage(cpuAtStart);
const statusCodes: Record<string, number> = {};
for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = stat.count ?? 0;
const stoppedBy = spec.amount && !stoppedAtTimeBound ? "count" : "time";
const out: LoadResult = {
  // autocannon's own clock from its start: to its stop for a load bounded by time (also one cut short),
  // to the last answer for one that made its count (see above).
  durationSeconds: stoppedBy === "count" && lastAnswerAt > 0 ? (lastAnswerAt - result.start.getTime()) / 1000 : result.duration,
  ...(spec.amount ? { amount: spec.amount } : {}),
  stoppedBy,
  requests: result.requests.total,
  ok: result["2xx"],
  non2xx: result.non2xx,
  statusCodes,
  errors: result.errors,
  timeouts: result.timeouts,
  latencyMs: { p50: result.latency.p50, p99: result.latency.p99, mean: result.latency.mean },
  connections: spec.connections,
  cpuSeconds: (cpu.user + cpu.system) / 1e6,
  // Requests that took a body a second time: the list ran short of the load (callers size it so it never does).
  ...(bodies ? { bodies: { given: bodies.length, reused: Math.max(0, n - bodies.length) } } : {}),
};
process.stdout.write(`${JSON.stringify(out)}\n`);
