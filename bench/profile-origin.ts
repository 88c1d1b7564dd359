/**
 * `npx tsx bench/profile-origin.ts [--runs 3] [--seconds 5] [--out DIR]`: where a booking's CPU goes in the
 * origin's process, beside the raw SQL server's and the raw server's that checks passes, under the very
 * loads `npm run bench -- origin` sends. It runs that suite with each side's Node started under
 * `--cpu-prof` (V8's sampling profiler), keeps each
 * side's main-thread samples taken while one of its measured loads ran (the suite says when each ran, on
 * the machine's monotonic clock, which V8's profiles count in too), puts each sample in the piece of a
 * booking its stack is in, and splits the main thread's CPU over the load (/proc) by those shares: µs of
 * CPU per booking made, piece by piece and side by side. The profiler slows JavaScript more than native
 * code, so every figure is larger than unprofiled;
 * read the pieces against each other and against the other side. It writes nothing but the profiles (to a
 * temporary folder, removed, unless --out names one), and never the bench's results or summary.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { profileStacks, type Profile } from "./lib/cpu-profile.js";
import { machine } from "./lib/machine.js";
import { cleanupAll } from "./lib/processes.js";
import { machineLine } from "./lib/report.js";
import { median } from "./lib/stats.js";
import { eachRun } from "./lib/suite.js";
import { originSuite, type LoadWindow, type OriginSide } from "./suites/origin.js";

/**
 * The pieces of a booking. A piece that owns what it calls (the pass check, the database driver, Drizzle,
 * zod) takes a sample when any frame of its stack is the piece's, tried in this order: the driver before
 * Drizzle, which calls it. Any other sample goes to the piece of the innermost frame that names one (the
 * side's own code, @hono/node-server, Node's internals), so the answer Node writes is Node's work on both
 * sides, whichever code asked for it.
 */
const OWNERS: Array<{ piece: string; frame: RegExp }> = [
  { piece: "garbage collection", frame: /^\(garbage collector\) / },
  { piece: "the pass check (ES256 and claims)", frame: /\/src\/(contract\/(pass|direct-jwt)|origin\/(pass-verifier|node-signature|routes\/pass))\.ts$|^verifyOneShot / },
  { piece: "the Neon driver and its WebSocket (the round trip)", frame: /\/@neondatabase\/serverless\/|\/node_modules\/ws\// },
  { piece: "Drizzle (statement, placeholders, rows)", frame: /\/drizzle-orm\// },
  { piece: "zod (the body's schema; the pass's is in its check)", frame: /\/zod\// },
];
const INNERMOST: Array<{ piece: string; frame: RegExp }> = [
  { piece: "the side's own code (route, booking, JSON)", frame: /\/src\/\S*$|\/bench\/lib\/raw-booking-server\.ts$/ },
  { piece: "@hono/node-server (Request, Response)", frame: /\/@hono\/node-server\// },
  { piece: "Node: HTTP, sockets, streams, timers", frame: / node:\S*$/ },
];
const NATIVE = "V8 and native code, no JavaScript frame";
const OTHER = "anything else";
const PIECES = [...OWNERS, ...INNERMOST].map((p) => p.piece).concat(NATIVE, OTHER);

/** The piece a sample's stack (innermost frame first, each "function url") is in. */
function pieceOf(frames: string[]): string {
  const owner = OWNERS.find((p) => frames.some((f) => p.frame.test(f)));
  if (owner) return owner.piece;
  for (const f of frames) {
    const inner = INNERMOST.find((p) => p.frame.test(f));
    if (inner) return inner.piece;
  }
  return frames[0]?.startsWith("(program) ") ? NATIVE : OTHER;
}

const { values } = parseArgs({ options: { runs: { type: "string", default: "3" }, seconds: { type: "string", default: "5" }, out: { type: "string" } } });
const runs = Number(values.runs);
const seconds = Number(values.seconds);
if (!Number.isInteger(runs) || runs < 1 || !(seconds > 0)) throw new Error("--runs takes a whole number ≥ 1 and --seconds a number > 0");
const dir = values.out ?? mkdtempSync(join(tmpdir(), "profile-origin-"));

/** The main thread's profile of one side: Node names it CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile, thread 0. */
function mainThreadProfile(side: OriginSide): Profile {
  const folder = join(dir, side);
  const files = readdirSync(folder).filter((f) => /\.\d+\.0\.\d+\.cpuprofile$/.test(f));
  if (files.length !== 1) throw new Error(`expected one main-thread profile in ${folder}, found ${files.length}`);
  return JSON.parse(readFileSync(join(folder, files[0]!), "utf8")) as Profile;
}

/**
 * The share of the main thread's busy samples in each piece, over the samples taken inside a window. V8
 * samples on a wall-clock timer, so a sample stands for time the thread was running or waiting for a core;
 * on a shared machine only the shares are the profile's to give, and /proc gives the CPU they split. Each
 * sampled node's piece is worked out once per profile, whatever the number of windows.
 */
function piecesOf(profile: Profile): (window: LoadWindow) => Map<string, number> {
  const { node, stackOf } = profileStacks(profile);
  const known = new Map<number, string>();
  const classify = (leaf: number): string => {
    let piece = known.get(leaf);
    if (piece === undefined) {
      const frames = stackOf(leaf).map(({ callFrame }) => `${callFrame.functionName || "(anonymous)"} ${callFrame.url}`);
      known.set(leaf, (piece = pieceOf(frames)));
    }
    return piece;
  };
  return (window) => {
    if (window.fromUs < profile.startTime || window.toUs > profile.endTime) {
      throw new Error(`a load ran outside its side's profile (${window.fromUs}-${window.toUs} µs, profile ${profile.startTime}-${profile.endTime}): the clocks do not match`);
    }
    const counts = new Map<string, number>();
    let busy = 0;
    let at = profile.startTime;
    profile.samples.forEach((id, i) => {
      at += profile.timeDeltas[i]!;
      if (at < window.fromUs || at >= window.toUs) return;
      if (node(id).callFrame.functionName === "(idle)") return;
      const piece = classify(id);
      counts.set(piece, (counts.get(piece) ?? 0) + 1);
      busy++;
    });
    if (busy === 0) throw new Error("no busy sample inside a measured load");
    return new Map([...counts].map(([piece, n]) => [piece, n / busy]));
  };
}

interface RunRecord {
  run: number;
  origin: { statusCodes: Record<string, number> };
  raw: { statusCodes: Record<string, number> };
  checked: { statusCodes: Record<string, number> };
  cpu: { originMsPerBooking: number; rawMsPerBooking: number; checkedMsPerBooking: number };
  windows: Record<OriginSide, LoadWindow>;
}
const isRunRecord = (r: unknown): r is RunRecord => typeof r === "object" && r !== null && "windows" in r && "cpu" in r;

console.log(`profile-origin: ${runs} run(s) of ${seconds} s; load average ${loadavg()[0]!.toFixed(2)}; profiles in ${dir}`);
console.log(`machine: ${machineLine(machine())}`);
try {
  const suite = originSuite((side) => ["--cpu-prof", `--cpu-prof-dir=${join(dir, side)}`]);
  const log = (message: string) => console.log(`  origin: ${message}`);
  const failed: Array<{ run: number; error: string }> = [];
  const output = await suite.run({ runs, quick: false, seconds, warmupSeconds: 1, connections: 32, log, eachRun: (measure) => eachRun(runs, measure, failed, log) });
  const records = output.raw.filter(isRunRecord);
  const sides = ["origin", "checked", "raw"] as const;
  const sharesIn = { origin: piecesOf(mainThreadProfile("origin")), checked: piecesOf(mainThreadProfile("checked")), raw: piecesOf(mainThreadProfile("raw")) };
  // Per side, per run: µs per booking for each piece.
  const perRun: Record<OriginSide, Array<Map<string, number>>> = { origin: [], checked: [], raw: [] };
  for (const record of records) {
    for (const side of sides) {
      const bookings = record[side].statusCodes["201"] ?? 0;
      if (bookings === 0) throw new Error(`run ${record.run + 1}: the ${side} made no booking`);
      // The main thread's CPU per booking, from /proc, split as its busy samples were.
      const mainUsPerBooking = (record.windows[side].mainThreadCpuSeconds * 1e6) / bookings;
      const perBooking = new Map([...sharesIn[side](record.windows[side])].map(([piece, share]) => [piece, share * mainUsPerBooking]));
      perRun[side].push(perBooking);
    }
  }
  const figure = (side: OriginSide, piece: string | undefined) => {
    const per = perRun[side].map((m) => (piece === undefined ? [...m.values()].reduce((a, b) => a + b, 0) : (m.get(piece) ?? 0)));
    return { median: median(per), min: Math.min(...per), max: Math.max(...per) };
  };
  type Spread = { median: number; min: number; max: number };
  const show = (f: Spread) => `${f.median.toFixed(0)} (${f.min.toFixed(0)}–${f.max.toFixed(0)})`;
  console.log(
    `\nthe main thread's CPU per booking while the measured loads ran (/proc), split by its profile's busy samples; µs under the profiler, median (min–max) of ${records.length} run(s)${failed.length ? ` (${failed.length} failed)` : ""}\n`,
  );
  // The raw server with the pass check between the two: what the check alone adds, and what the origin adds beyond it.
  console.log("| piece | origin | raw SQL with the pass check | raw SQL server | origin − with the check | with the check − raw |");
  console.log("|---|---|---|---|---|---|");
  const row = (label: string, piece: string | undefined) => {
    const [o, c, r] = sides.map((side) => figure(side, piece)) as [Spread, Spread, Spread];
    if (piece !== undefined && o.max === 0 && c.max === 0 && r.max === 0) return;
    console.log(`| ${label} | ${show(o)} | ${show(c)} | ${show(r)} | ${(o.median - c.median).toFixed(0)} | ${(c.median - r.median).toFixed(0)} |`);
  };
  for (const piece of PIECES) row(piece, piece);
  row("main thread, all pieces", undefined);
  const cpu = (key: keyof RunRecord["cpu"]) => median(records.map((rec) => rec.cpu[key] * 1000));
  const [o, c, r] = [cpu("originMsPerBooking"), cpu("checkedMsPerBooking"), cpu("rawMsPerBooking")];
  console.log(`| the whole process (every thread, /proc), under the profiler | ${o.toFixed(0)} | ${c.toFixed(0)} | ${r.toFixed(0)} | ${(o - c).toFixed(0)} | ${(c - r).toFixed(0)} |`);
} finally {
  await cleanupAll();
  if (values.out === undefined) rmSync(dir, { recursive: true, force: true });
}
