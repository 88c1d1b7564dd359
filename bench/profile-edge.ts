/**
 * `npx tsx bench/profile-edge.ts [polls|joins|idle] [--shards 4] [--seconds 10]`: where a status poll's or a
 * join's CPU goes in the edge's isolate. It starts the edge as `npm run bench -- polls` and `-- joins` do
 * (bench/workers/edge-bench.ts, nobody admitted); for polls it joins the poll suite's number of citizens
 * first. Then it records V8's CPU profile of the edge isolate (through workerd's inspector) over a load
 * of the suite's shape (polls: a waiting ticket per request; joins: a fresh citizen's id_token per
 * request, 32 connections, as the join suite sends them), and prints the functions by self time and by
 * total time, with the share of samples. The Worker and its Durable Objects share that isolate locally,
 * so the shards' alarms, commits and the coordinator show too. A tool for deciding where to look: it
 * prints and writes nothing but an optional .cpuprofile (--out) for Chrome's DevTools.
 *
 * `idle` joins the poll suite's citizens as `polls` does, then sends nothing: it prints workerd's CPU per
 * second over `--seconds` without the profiler (the background cost of a waiting line: the shards' alarms
 * and the coordinator), then profiles as long again.
 */
import { writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { Citizens, getJson, joinLoad, joinMany } from "./lib/edge-client.js";
import { freePort, inspectIsolate } from "./lib/inspector.js";
import { okPerSecond, runLoad, type LoadResult } from "./lib/load.js";
import { removeBundles, startEdge } from "./lib/miniflare.js";
import { cleanupAll } from "./lib/processes.js";
import { cpuSeconds, workerdPid } from "./lib/workerd-process.js";
import { NO_ADMISSIONS } from "./suites/joins.js";
import { COHORT, pollTickets } from "./suites/polls.js";
import type { CoordinatorProbe } from "./workers/edge-bench.js";
import { profileStacks, type Profile, type ProfileNode } from "./lib/cpu-profile.js";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { shards: { type: "string", default: "4" }, seconds: { type: "string", default: "10" }, top: { type: "string", default: "40" }, out: { type: "string" } },
});
const what = positionals[0] ?? "polls";
if (what !== "polls" && what !== "joins" && what !== "idle") throw new Error(`profile polls, joins or idle, not ${what}`);
const shards = Number(values.shards);
const seconds = Number(values.seconds);
const top = Number(values.top);

/** A frame's name as the table shows it: function, file and line. */
function frameName(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url.slice(url.lastIndexOf("/") + 1);
  return `${functionName || "(anonymous)"} ${file}:${lineNumber + 1}`;
}

function report(profile: Profile): void {
  const { node, stackOf } = profileStacks(profile);
  const hits = new Map<number, number>();
  for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
  const total = profile.samples.length;
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, n] of hits) {
    const name = frameName(node(id));
    self.set(name, (self.get(name) ?? 0) + n);
    // Each frame on the stack once, however deep it recurses.
    const seen = new Set<string>();
    for (const at of stackOf(id)) {
      const frame = frameName(at);
      if (seen.has(frame)) continue;
      seen.add(frame);
      inclusive.set(frame, (inclusive.get(frame) ?? 0) + n);
    }
  }
  const print = (title: string, table: Map<string, number>) => {
    console.log(`\n${title} (of ${total} samples)`);
    for (const [name, n] of [...table.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${((100 * n) / total).toFixed(1).padStart(5)}%  ${name}`);
  };
  print("self time", self);
  print("total time", inclusive);
}

const WARM_SECONDS = 2;

/** The idle mode's "load": nothing, for as long as a load would last. */
async function idle(phase: "warm" | "profiled"): Promise<null> {
  await sleep((phase === "warm" ? WARM_SECONDS : seconds) * 1000);
  return null;
}

const port = await freePort();
console.log(`profile-edge: ${what}, ${shards} shard(s), ${seconds} s; load average ${loadavg()[0]!.toFixed(2)}`);
const edge = await startEdge({ bundle: "edge-bench", vars: { SHARDS: String(shards), ...NO_ADMISSIONS }, inspectorPort: port });
try {
  const citizens = new Citizens();
  /** The load: its warm-up (2 s, not profiled) or the profiled one. */
  let load: (phase: "warm" | "profiled") => Promise<LoadResult | null>;
  if (what === "polls" || what === "idle") {
    const joined = await joinMany(edge.url, await citizens.idTokens(pollTickets(false)));
    const waiting = joined.filter((t) => t.state === "waiting").map((t) => t.ticket);
    const polls = (phase: "warm" | "profiled") =>
      runLoad({ url: `${edge.url}/api/queue/status`, method: "GET", headers: { authorization: "Bearer {{v}}" }, values: waiting, connections: 32, durationSeconds: phase === "warm" ? WARM_SECONDS : seconds, timeoutSeconds: 10 });
    load = what === "polls" ? polls : idle;
  } else {
    // Minted before any load, each load its own citizens, so no token is sent twice.
    const bodies = { warm: await citizens.joinBodiesFor(WARM_SECONDS), profiled: await citizens.joinBodiesFor(seconds) };
    load = (phase) => joinLoad(`${edge.url}/api/queue/join`, bodies[phase], { connections: 32, durationSeconds: phase === "warm" ? WARM_SECONDS : seconds });
  }
  await load("warm");
  if (what === "idle") {
    const pid = workerdPid()!;
    const reports = async () => ((await getJson(`${edge.url}/__bench/coordinator?cohort=${COHORT}`)) as CoordinatorProbe).calls.report;
    const [before, reportsBefore] = [cpuSeconds(pid), await reports()];
    await sleep(seconds * 1000);
    const cpu = cpuSeconds(pid) - before;
    const perSecond = ((await reports()) - reportsBefore) / seconds;
    console.log(`idle: workerd CPU ${((cpu * 1000) / seconds).toFixed(2)} ms/s, ${perSecond.toFixed(1)} reports/s to the coordinator (profiling off)`);
  }
  const inspector = await inspectIsolate(port, "edge");
  await inspector.send("Profiler.enable");
  await inspector.send("Profiler.setSamplingInterval", { interval: 100 });
  const pid = workerdPid()!;
  const before = cpuSeconds(pid);
  await inspector.send("Profiler.start");
  const result = await load("profiled");
  const { profile } = (await inspector.send("Profiler.stop")) as { profile: Profile };
  const cpu = cpuSeconds(pid) - before;
  inspector.close();
  const one = what.slice(0, -1);
  if (!result) console.log(`idle: workerd CPU ${((cpu * 1000) / seconds).toFixed(2)} ms/s (profiling on)`);
  else console.log(`${result.ok} ${what}, ${result.non2xx} non-2xx, ${okPerSecond(result).toFixed(0)} ${what}/s, workerd CPU ${((cpu * 1000) / result.ok).toFixed(3)} ms/${one} (profiling on)`);
  if (values.out) writeFileSync(values.out, JSON.stringify(profile));
  report(profile);
} finally {
  await edge.dispose();
  removeBundles();
  await cleanupAll();
}
