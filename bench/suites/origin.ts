/**
 * 5. Origin bookings per second on the PostgreSQL server through the Neon driver, against the same SQL
 * issued raw through the same driver; and oversold seats, which must be 0.
 *
 * A scratch database `bench_<random>` on 127.0.0.1:5432, dropped afterwards. The origin is the real Node
 * entry (src/origin/node.ts: migrate, seed, Hono, Drizzle, the Neon Pool) in a child process, reaching
 * PostgreSQL through the WebSocket-to-TCP bridge (test/support/ws-tcp-bridge.ts) that tests use, run in
 * a process of its own (bench/lib/bridge-child.ts), and trusting the passes of a key made for the run
 * (PASS_JWKS). The baseline is bench/lib/raw-booking-server.ts in another child process, on the same
 * bridge and Pool settings. A third child, the same server told the run's PASS_JWKS, books only with a
 * pass it has verified with the origin's own check: the one piece of the origin's work the design
 * requires of it, so that the rate it leaves says how far the pass check alone sets the origin below raw
 * SQL, and the origin's rate against it what everything else costs (Hono, zod, Drizzle, the route).
 *
 * Each request books with a pass nobody used before, in one of 100 fresh slots with seats to spare, so
 * every answer is a new booking (201). Then, per run and per side, a contended slot: 400 requests for
 * 50 seats. At the end SQL checks that no slot holds more bookings than its capacity.
 */
import { KeyObject, randomBytes, randomUUID, sign, type webcrypto } from "node:crypto";
import { sql } from "drizzle-orm";
import { exportJWK, generateKeyPair, type CryptoKey } from "jose";
import { openNeon, type DatabaseConnection } from "../../src/origin/db/connect.js";
import { clinics, slots } from "../../src/origin/db/schema.js";
import { probeHttp } from "../../scripts/http-probe.js";
import { freePort } from "../lib/inspector.js";
import { okPerSecond, runLoad, shortfallNote, type LoadResult } from "../lib/load.js";
import { notePostgresVersion } from "../lib/machine.js";
import { root } from "../lib/paths.js";
import { cpuSeconds, cpuSecondsByName, cpuSecondsSince, mainThreadCpuSeconds } from "../lib/workerd-process.js";
import { onCleanup, startChild, stopChild } from "../lib/processes.js";
import { figure, series } from "../lib/report.js";
import type { Suite, SuiteContext } from "../lib/suite.js";
import { loadFlags } from "./joins.js";
import type { ChildProcess } from "node:child_process";

const SERVER = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const SLOTS_PER_RUN = 100;
const SEATS_PER_SLOT = 1_000;
const CONTENDED_SEATS = 50;
const CONTENDED_REQUESTS = 400;
/** The one warm-up of every side before the first run (see where it is used), in seconds. */
const FIRST_WARMUP_SECONDS = 10;
const FIRST_WARMUP_SECONDS_QUICK = 3;
/**
 * Passes are signed for this many bookings a second of every load, well above what either side books on
 * these machines: each request must carry a pass of its own, since a load that ran out would send passes
 * again, whose replays book nothing, and the figure would be the count of passes over the seconds.
 */
const BOOKING_RATE_CEILING = 6_000;
/** Issue 29's target: the origin books at least this share of what the same SQL issued raw books. */
const ORIGIN_TARGET_RATIO = 0.8;

interface PassKey {
  privateKey: CryptoKey;
  kid: string;
  jwks: string;
}

/** What the run's passes say; the origin is told the same, as `npm start` tells it the edge's values. */
const PASSES = { PASS_ISSUER: "https://waiting-room.bench", PASS_AUDIENCE: "booking-origin-bench", PASS_TTL_SECONDS: "900" };

async function passKey(): Promise<PassKey> {
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  const kid = `bench-${randomBytes(4).toString("hex")}`;
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" };
  return { privateKey, kid, jwks: JSON.stringify({ keys: [jwk] }) };
}

/**
 * `count` passes as the edge signs them (src/edge/tokens/pass.ts: a compact ES256 JWS of `alg`, `kid` and
 * `typ`, the edge's claims), each for a citizen and a pass id nobody used before. Signed here with
 * node:crypto's synchronous sign, far cheaper than jose's through WebCrypto, since a run signs a pass for
 * every booking its load could make (BOOKING_RATE_CEILING).
 */
function signPasses(key: PassKey, tag: string, count: number): string[] {
  const now = Math.floor(Date.now() / 1000);
  const header = Buffer.from(JSON.stringify({ alg: "ES256", kid: key.kid, typ: "JWT" })).toString("base64url");
  const signer = KeyObject.from(key.privateKey as webcrypto.CryptoKey);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const claims = {
      cohort: "55-59",
      shard: 0,
      seq: i + 1,
      iss: PASSES.PASS_ISSUER,
      aud: PASSES.PASS_AUDIENCE,
      sub: `bench-citizen-${tag}-${i}-${randomUUID()}`,
      jti: `${tag}-${i}`,
      iat: now,
      nbf: now,
      // The edge's lifetime: the origin refuses a pass claiming a longer one than its PASS_TTL_SECONDS.
      exp: now + Number(PASSES.PASS_TTL_SECONDS),
    };
    const signingInput = `${header}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}`;
    const signature = sign("sha256", Buffer.from(signingInput), { key: signer, dsaEncoding: "ieee-p1363" });
    out.push(`${signingInput}.${signature.toString("base64url")}`);
  }
  return out;
}

/**
 * Checks that the raw SQL server told the run's keys checks passes as the origin does, refusing with a 401
 * a request without a pass and one whose pass another key signed, so its rate is one of a real check.
 */
async function checkPassCheck(url: string, key: PassKey): Promise<void> {
  const other = await passKey();
  const [forged] = signPasses({ ...other, kid: key.kid }, "forged", 1);
  const cases: Array<[string, Record<string, string>]> = [
    ["no pass", {}],
    ["a pass signed with another key", { authorization: `Bearer ${forged!}` }],
  ];
  for (const [what, headers] of cases) {
    const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: '{"slotId":1}' });
    await res.arrayBuffer();
    if (res.status !== 401) throw new Error(`raw SQL with the pass check answered ${what} with ${res.status}, not 401`);
  }
}

/** A child process the suite started, and the end of what it has printed. */
interface StartedChild {
  child: ChildProcess;
  output: () => string;
}

function startNodeChild(script: string, env: Record<string, string>, nodeArgs: string[]): StartedChild {
  const child = startChild(process.execPath, [...nodeArgs, "--import", "tsx", script], { cwd: root, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let text = "";
  child.stdout?.on("data", (c: Buffer) => (text = (text + c.toString()).slice(-20_000)));
  child.stderr?.on("data", (c: Buffer) => (text = (text + c.toString()).slice(-20_000)));
  return { child, output: () => text };
}

/**
 * Asks `ready` every `everyMs` until it gives a value, for a child process the suite started: throws once
 * the child has exited, or after `seconds`, with the end of what the child printed.
 */
async function whenReady<T>(
  what: string,
  started: StartedChild,
  seconds: number,
  everyMs: number,
  ready: () => T | undefined | Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    if (started.child.exitCode !== null) throw new Error(`${what}: the process exited (${started.child.exitCode}): ${started.output().slice(-2000)}`);
    const value = await ready();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`${what}: not ready within ${seconds} s: ${started.output().slice(-2000)}`);
}

/** Until `url` answers at all. */
function waitForHttp(url: string, started: StartedChild): Promise<true> {
  return whenReady(url, started, 90, 300, async () => ((await probeHttp(url, () => true)) ? true : undefined));
}

/** The rows of a raw `execute` on the Neon driver (a pg-style result). */
function rowsOf<T>(result: unknown): T[] {
  return (result as { rows: T[] }).rows;
}

/**
 * When a measured load ran, in µs of the machine's monotonic clock (which V8's profiles also count in),
 * and the CPU seconds its side's main thread spent meanwhile.
 */
export interface LoadWindow {
  fromUs: number;
  toUs: number;
  mainThreadCpuSeconds: number;
}

const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);

/**
 * The CPU seconds of every process a booking load keeps busy, over one load: the side's server, PostgreSQL
 * (all its processes: backends, WAL writer, checkpointer, autovacuum), the WebSocket-to-TCP bridge and the
 * load generator. On 2 cores they compete for the machine, so the rate each side reaches follows their sum
 * per booking, of which the side's own process is one part.
 */
interface MachineCpu {
  side: number;
  postgres: number;
  bridge: number;
  loadGenerator: number;
}

const machineTotal = (m: MachineCpu) => m.side + m.postgres + m.bridge + m.loadGenerator;

/**
 * A load, the CPU seconds (user + system, all threads) `child` and the others of `MachineCpu` spent while it
 * ran, and when it ran.
 */
async function withCpu(
  child: ChildProcess,
  bridgePid: number,
  load: () => Promise<LoadResult>,
): Promise<{ load: LoadResult; machine: MachineCpu; window: LoadWindow }> {
  const pid = child.pid!;
  const [before, mainBefore, bridgeBefore, postgresBefore] = [cpuSeconds(pid), mainThreadCpuSeconds(pid), cpuSeconds(bridgePid), cpuSecondsByName("postgres")];
  const fromUs = monotonicUs();
  const result = await load();
  const toUs = monotonicUs();
  if (result.cpuSeconds === undefined) throw new Error("the load generator did not report its CPU");
  const machine = {
    side: cpuSeconds(pid) - before,
    postgres: cpuSecondsSince(postgresBefore, cpuSecondsByName("postgres")),
    bridge: cpuSeconds(bridgePid) - bridgeBefore,
    loadGenerator: result.cpuSeconds,
  };
  return { load: result, machine, window: { fromUs, toUs, mainThreadCpuSeconds: mainThreadCpuSeconds(pid) - mainBefore } };
}

/** The bridge in a process of its own (bench/lib/bridge-child.ts), and the port it listens on. */
async function startBridge(): Promise<{ child: ChildProcess; port: number }> {
  const started = startNodeChild("bench/lib/bridge-child.ts", {}, []);
  try {
    const port = await whenReady("the bridge", started, 60, 100, () => /bridge listening on (\d+)/.exec(started.output())?.[1]);
    return { child: started.child, port: Number(port) };
  } catch (err) {
    await stopChild(started.child);
    throw err;
  }
}

/** The processes the suite measures: the origin, the raw SQL server, and that server checking passes. */
export type OriginSide = "origin" | "raw" | "checked";

let slotHour = 0;
/** Fresh slots in the bench clinic; their ids are consecutive (one multi-row insert on an identity). */
async function newSlots(db: DatabaseConnection["db"], clinicId: number, count: number, capacity: number): Promise<{ first: number; count: number }> {
  const rows = Array.from({ length: count }, () => ({
    clinicId,
    startsAt: new Date(Date.UTC(2031, 0, 1) + slotHour++ * 3_600_000),
    capacity,
  }));
  const ids = (await db.insert(slots).values(rows).returning({ id: slots.id })).map((r) => r.id).sort((a, b) => a - b);
  if (ids.at(-1)! - ids[0]! !== count - 1) throw new Error("slot ids are not consecutive");
  return { first: ids[0]!, count };
}

/**
 * The suite, with `nodeArgs` given to each side's Node before its script: bench/profile-origin.ts profiles
 * every side with them (`--cpu-prof`); `npm run bench` gives none.
 */
export function originSuite(nodeArgs: (side: OriginSide) => string[] = () => []): Suite {
  return {
    name: "origin",
    title: "Origin bookings/s on PostgreSQL through the Neon driver",
    async run(ctx: SuiteContext) {
      const name = `bench_${randomBytes(6).toString("hex")}`;
      const bridge = await startBridge();
      const proxy = `127.0.0.1:${bridge.port}`;
      const admin = openNeon(SERVER, { wsProxy: proxy, connectionTimeoutMs: 10_000, max: 1 });
      const url = new URL(SERVER);
      url.pathname = `/${name}`;
      const databaseUrl = url.toString();
      let db: DatabaseConnection | undefined;
      const children: ChildProcess[] = [];
      let dropped = false;
      const teardown = async () => {
        for (const c of children) await stopChild(c);
        await db?.close().catch(() => {});
        if (!dropped) {
          dropped = true;
          await admin.db.execute(sql.raw(`drop database if exists "${name}" with (force)`)).catch((err: unknown) => console.error(`could not drop ${name}:`, err));
        }
        await admin.close().catch(() => {});
        await stopChild(bridge.child);
      };
      const forget = onCleanup(teardown);
      try {
        const version = rowsOf<{ v: string }>(await admin.db.execute(sql`show server_version`))[0]?.v;
        if (version) notePostgresVersion(version);
        await admin.db.execute(sql.raw(`create database "${name}"`));
        ctx.log(`scratch database ${name}`);

        const key = await passKey();
        const originPort = await freePort();
        const rawPort = await freePort();
        const checkedPort = await freePort();
        const env = { DATABASE_URL: databaseUrl, NEON_WS_PROXY: proxy };
        // The origin first: it migrates and seeds the scratch database.
        const o = startNodeChild("src/origin/node.ts", { ...env, ...PASSES, PORT: String(originPort), PASS_JWKS: key.jwks }, nodeArgs("origin"));
        children.push(o.child);
        await waitForHttp(`http://127.0.0.1:${originPort}/api/slots?region=11`, o);
        const r = startNodeChild("bench/lib/raw-booking-server.ts", { ...env, PORT: String(rawPort) }, nodeArgs("raw"));
        children.push(r.child);
        await waitForHttp(`http://127.0.0.1:${rawPort}/`, r);
        const c = startNodeChild("bench/lib/raw-booking-server.ts", { ...env, ...PASSES, PORT: String(checkedPort), PASS_JWKS: key.jwks }, nodeArgs("checked"));
        children.push(c.child);
        await waitForHttp(`http://127.0.0.1:${checkedPort}/`, c);
        await checkPassCheck(`http://127.0.0.1:${checkedPort}/book`, key);

        db = openNeon(databaseUrl, { wsProxy: proxy, connectionTimeoutMs: 10_000, max: 2 });
        const [clinic] = await db.db.insert(clinics).values({ name: "벤치마크의원", region: "11", address: "서울특별시 중구 세종대로 110" }).returning({ id: clinics.id });
        const clinicId = clinic!.id;

        const passesFor = (seconds: number) => Math.ceil(seconds * BOOKING_RATE_CEILING);
        const passesPerRun = passesFor(ctx.seconds);
        // The passes are signed before the load (by the caller), so no measured window holds their signing.
        // The origin's requests, to the origin or to the raw server that checks passes (which takes the same).
        const passLoad = (url: string) => (seconds: number, range: { first: number; count: number }, passes: string[], amount?: number) =>
          runLoad({
            url,
            method: "POST",
            headers: { "content-type": "application/json", authorization: "Bearer {{v}}" },
            body: '{"slotId":{{slot}}}',
            values: passes,
            slots: range,
            connections: ctx.connections,
            durationSeconds: seconds,
            ...(amount ? { amount } : {}),
            timeoutSeconds: 15,
          });
        const originLoad = passLoad(`http://127.0.0.1:${originPort}/api/bookings`);
        const checkedLoad = passLoad(`http://127.0.0.1:${checkedPort}/book`);
        const rawLoad = (tag: string, seconds: number, range: { first: number; count: number }, amount?: number) =>
          runLoad({
            url: `http://127.0.0.1:${rawPort}/book`,
            method: "POST",
            headers: { "content-type": "application/json" },
            body: `{"slotId":{{slot}},"citizenKey":"bench-raw-citizen-${tag}-{{n}}","jti":"${tag}-{{n}}"}`,
            slots: range,
            connections: ctx.connections,
            durationSeconds: seconds,
            ...(amount ? { amount } : {}),
            timeoutSeconds: 15,
          });

        // Bookings made: 201 only (a 200 would be a replayed pass, had the passes run out).
        const created = (l: LoadResult) => (l.statusCodes["201"] ?? 0) / l.durationSeconds;
        // Contended slots made, in runs that failed too: the oversold check covers every slot.
        let contendedSlots = 0;
        const contendedSlot = () => {
          contendedSlots++;
          return newSlots(db!.db, clinicId, 1, CONTENDED_SEATS);
        };
        // Each side's Node compiles its hot code while its first loads run (V8 optimizes a function once
        // it has run hot for a while, on background threads whose CPU the side's figure counts), so a first
        // run made right after start measures the compiler as well as the code, the origin's (more code)
        // more than the baseline's. Every side is warmed this long once, before the runs and their own
        // short warm-ups, so that every run measures its side as a long-running server runs.
        const firstWarmup = Math.max(ctx.warmupSeconds, ctx.quick ? FIRST_WARMUP_SECONDS_QUICK : FIRST_WARMUP_SECONDS);
        await originLoad(firstWarmup, await newSlots(db.db, clinicId, SLOTS_PER_RUN, SEATS_PER_SLOT), signPasses(key, "o-first-warm", passesFor(firstWarmup)));
        await rawLoad("r-first-warm", firstWarmup, await newSlots(db.db, clinicId, SLOTS_PER_RUN, SEATS_PER_SLOT));
        await checkedLoad(firstWarmup, await newSlots(db.db, clinicId, SLOTS_PER_RUN, SEATS_PER_SLOT), signPasses(key, "c-first-warm", passesFor(firstWarmup)));
        const raw = await ctx.eachRun(async (run) => {
          const measureOrigin = async () => {
            await originLoad(ctx.warmupSeconds, await newSlots(db!.db, clinicId, SLOTS_PER_RUN, SEATS_PER_SLOT), signPasses(key, `o-warm-${run}`, passesFor(ctx.warmupSeconds)));
            const range = await newSlots(db!.db, clinicId, SLOTS_PER_RUN, SEATS_PER_SLOT);
            const passes = signPasses(key, `o-run-${run}`, passesPerRun);
            return withCpu(o.child, bridge.child.pid!, () => originLoad(ctx.seconds, range, passes));
          };
          const measureRaw = async () => {
            await rawLoad(`r-warm-${run}`, ctx.warmupSeconds, await newSlots(db!.db, clinicId, SLOTS_PER_RUN, SEATS_PER_SLOT));
            const range = await newSlots(db!.db, clinicId, SLOTS_PER_RUN, SEATS_PER_SLOT);
            return withCpu(r.child, bridge.child.pid!, () => rawLoad(`r-run-${run}`, ctx.seconds, range));
          };
          const measureChecked = async () => {
            await checkedLoad(ctx.warmupSeconds, await newSlots(db!.db, clinicId, SLOTS_PER_RUN, SEATS_PER_SLOT), signPasses(key, `c-warm-${run}`, passesFor(ctx.warmupSeconds)));
            const range = await newSlots(db!.db, clinicId, SLOTS_PER_RUN, SEATS_PER_SLOT);
            const passes = signPasses(key, `c-run-${run}`, passesPerRun);
            return withCpu(c.child, bridge.child.pid!, () => checkedLoad(ctx.seconds, range, passes));
          };
          // Each run starts with another side, so no side always runs first or last (first origin, raw, checked).
          const measured: Partial<Record<OriginSide, Awaited<ReturnType<typeof measureOrigin>>>> = {};
          const order: OriginSide[] = ["origin", "raw", "checked"];
          const measure = { origin: measureOrigin, raw: measureRaw, checked: measureChecked };
          for (let i = 0; i < order.length; i++) {
            const side = order[(run + i) % order.length]!;
            measured[side] = await measure[side]();
          }
          const [origin, baseline, checked] = [measured.origin!, measured.raw!, measured.checked!];
          const [o1, r1, c1] = [origin.load, baseline.load, checked.load];
          // Every pass is new and good and every slot has seats to spare, so every answer is a booking made:
          // any other means the bench, not the side, is wrong (passes the origin refuses; passes that ran
          // out and were sent again, answered 200 as replays), and such a rate must not become a figure.
          for (const [side, l] of [["origin", o1], ["raw", r1], ["raw with the pass check", c1]] as const) {
            const odd = Object.entries(l.statusCodes).filter(([code]) => code !== "201");
            if (odd.length) throw new Error(`${side} bookings answered ${odd.map(([code, n]) => `${n}× ${code}`).join(", ")}`);
          }
          // Contention: more requests than seats for one slot, on the origin and on the raw server (which the
          // third side is, with the pass check in front).
          const oHot = await originLoad(60, await contendedSlot(), signPasses(key, `o-hot-${run}`, CONTENDED_REQUESTS), CONTENDED_REQUESTS);
          const rHot = await rawLoad(`r-hot-${run}`, 60, await contendedSlot(), CONTENDED_REQUESTS);
          ctx.log(
            `run ${run + 1}: origin ${created(o1).toFixed(0)} bookings/s (${okPerSecond(o1).toFixed(0)} 2xx/s), raw SQL ${created(r1).toFixed(0)}/s, ` +
              `raw SQL with the pass check ${created(c1).toFixed(0)}/s; ` +
              `contended slot: origin ${oHot.statusCodes["201"] ?? 0} booked of ${CONTENDED_SEATS}${loadFlags(oHot)}, raw ${rHot.statusCodes["201"] ?? 0}${loadFlags(rHot)}`,
          );
          // CPU per booking made, all threads of each side's process: what each side's own work costs,
          // beside the rate, which also depends on what PostgreSQL, the bridge and autocannon leave it;
          // and the CPU of all of them per booking, which on 2 cores is what the rate follows.
          const perBooking = (seconds: number, l: LoadResult) => (seconds * 1000) / (l.statusCodes["201"] ?? 0);
          const machineMs = (m: MachineCpu, l: LoadResult): MachineCpu => ({
            side: perBooking(m.side, l),
            postgres: perBooking(m.postgres, l),
            bridge: perBooking(m.bridge, l),
            loadGenerator: perBooking(m.loadGenerator, l),
          });
          const machine = {
            originMsPerBooking: machineMs(origin.machine, o1),
            rawMsPerBooking: machineMs(baseline.machine, r1),
            checkedMsPerBooking: machineMs(checked.machine, c1),
          };
          const cpu = {
            originMsPerBooking: machine.originMsPerBooking.side,
            rawMsPerBooking: machine.rawMsPerBooking.side,
            checkedMsPerBooking: machine.checkedMsPerBooking.side,
          };
          const shown = (m: MachineCpu) =>
            `${m.side.toFixed(2)} + ${m.postgres.toFixed(2)} + ${m.bridge.toFixed(2)} + ${m.loadGenerator.toFixed(2)} = ${machineTotal(m).toFixed(2)} ms`;
          ctx.log(
            `run ${run + 1}: CPU per booking (the side + PostgreSQL + the bridge + the load generator): origin ${shown(machine.originMsPerBooking)}, raw SQL ${shown(machine.rawMsPerBooking)}, ` +
              `raw SQL with the pass check ${shown(machine.checkedMsPerBooking)}`,
          );
          return {
            run,
            origin: o1,
            raw: r1,
            checked: c1,
            cpu,
            machine,
            windows: { origin: origin.window, raw: baseline.window, checked: checked.window },
            contended: { origin: oHot, raw: rHot },
          };
        });
        const originRate = raw.map((r) => created(r.origin));
        const rawRate = raw.map((r) => created(r.raw));
        const checkedRate = raw.map((r) => created(r.checked));

        // The invariant, checked where it lives: no slot holds more live bookings than seats.
        const check = rowsOf<{ slots: number; over_capacity: number; oversold: number; inconsistent: number; bookings: number }>(
          await db.db.execute(sql`
            select count(*)::int as slots,
                   (count(*) filter (where s.booked > s.capacity))::int as over_capacity,
                   coalesce(sum(greatest(0, coalesce(b.n, 0) - s.capacity)), 0)::int as oversold,
                   (count(*) filter (where coalesce(b.n, 0) <> s.booked))::int as inconsistent,
                   coalesce(sum(b.n), 0)::int as bookings
            from slots s
            left join (select slot_id, count(*) as n from bookings where status = 'booked' group by slot_id) b on b.slot_id = s.id`),
        )[0]!;
        ctx.log(`check: ${check.bookings} bookings in ${check.slots} slots; ${check.oversold} oversold seats, ${check.over_capacity} slots over capacity, ${check.inconsistent} slots whose counter disagrees`);
        const contendedSeats = contendedSlots * CONTENDED_SEATS;
        // A contended load is a count bounded in time: one cut short sent fewer requests than its slot has
        // contenders, which the oversold figure must say (it still checks every seat that was booked).
        const cutShort = shortfallNote(raw.flatMap((r) => [{ run: r.run, load: r.contended.origin }, { run: r.run, load: r.contended.raw }]));
        return {
          method:
            "PostgreSQL server on 127.0.0.1, a scratch database; the origin is src/origin/node.ts (Hono, the pass checked directly with node:crypto's ES256 verify, zod, Drizzle, the Neon serverless Pool, max 10) " +
            "in a child process, through the WebSocket-to-TCP bridge; autocannon in another process POSTs /api/bookings with a fresh pass per request, " +
            `spread over ${SLOTS_PER_RUN} fresh slots of ${SEATS_PER_SLOT} seats. Baseline: bench/lib/raw-booking-server.ts, the same statements raw through the same Pool. ` +
            "Raw SQL with the pass check: the same server in a third process, booking only with a pass from the request's Authorization header that the origin's own verifier " +
            "(src/origin/pass-verifier.ts, node:crypto's ES256 check) found good, sent the origin's load; each run measures the three in another order. " +
            `Each side is loaded for ${firstWarmup} s once before the first run, and for ${ctx.warmupSeconds} s before each measured load. ` +
            "CPU per booking: each side's process (utime + stime of every thread, /proc/<pid>/stat) over its measured load, divided by the bookings it made; " +
            "and that plus PostgreSQL's processes (every process named postgres), the bridge's (its own process) and the load generator's (its own count from its load's start to its end) over the same load. " +
            `Oversold seats: SQL over every slot after the runs, including a contended slot per run and side (${CONTENDED_REQUESTS} requests for ${CONTENDED_SEATS} seats).`,
          settings: { connections: ctx.connections, seconds: ctx.seconds, warmupSeconds: ctx.warmupSeconds, firstWarmupSeconds: firstWarmup, passesPerRun, pool: 10 },
          figures: [
            figure(
              "origin.bookings",
              series("5. Origin bookings/s (Neon driver, PostgreSQL)", "/s", originRate),
              series("same SQL raw, same driver, bookings/s", "/s", rawRate),
              "origin / raw SQL",
              { text: `≥ ${ORIGIN_TARGET_RATIO}× raw`, met: (f) => f.ratio.median >= ORIGIN_TARGET_RATIO },
            ),
            figure(
              "origin.pass-check",
              series("5. Raw SQL with the origin's pass check, bookings/s (the check the design requires, nothing else of the origin)", "/s", checkedRate),
              series("same SQL raw, same driver, bookings/s", "/s", rawRate),
              "with the pass check / raw SQL",
            ),
            figure(
              "origin.beyond-pass-check",
              series("5. Origin bookings/s, against raw SQL with the pass check", "/s", originRate),
              series("raw SQL with the origin's pass check, bookings/s", "/s", checkedRate),
              "origin / raw SQL with the pass check",
            ),
            figure(
              "origin.cpu-per-booking",
              series("5. Origin CPU per booking (its process, user+sys)", "ms", raw.map((r) => r.cpu.originMsPerBooking)),
              series("raw SQL server CPU per booking", "ms", raw.map((r) => r.cpu.rawMsPerBooking)),
              "origin / raw SQL",
            ),
            figure(
              "origin.pass-check-cpu-per-booking",
              series("5. Raw SQL with the pass check, CPU per booking (its process, user+sys)", "ms", raw.map((r) => r.cpu.checkedMsPerBooking)),
              series("raw SQL server CPU per booking", "ms", raw.map((r) => r.cpu.rawMsPerBooking)),
              "with the pass check / raw SQL",
            ),
            figure(
              "origin.machine-cpu-per-booking",
              series(
                "5. CPU per booking, the origin and all it keeps busy (the origin, PostgreSQL, the bridge, the load generator)",
                "ms",
                raw.map((r) => machineTotal(r.machine.originMsPerBooking)),
              ),
              series("the same for the raw SQL server's loads", "ms", raw.map((r) => machineTotal(r.machine.rawMsPerBooking))),
              "origin / raw SQL",
            ),
            figure(
              "origin.oversold",
              series("5. Oversold seats", "seats", [check.oversold]),
              series("seats in contended slots", "seats", [contendedSeats]),
              "oversold / contended",
              { text: "= 0", met: (f) => f.value.median === 0 && check.over_capacity === 0 && check.inconsistent === 0 },
              cutShort && `contended loads: ${cutShort}`,
            ),
          ],
          raw: [...raw, { check }],
          notes: [
            "Everything shares the 2 cores: PostgreSQL, the origin (or a baseline), the bridge and autocannon, each a process of its own; with the cores busy, each side's rate follows the CPU all of them spend per booking (the figure that sums them), of which the side's own process is one part.",
            "The oversold figure is one SQL check over the whole scratch database after all runs, so it has one value, not one per run.",
            ...(cutShort ? [`Contended loads (${CONTENDED_REQUESTS} requests each, bounded at 60 s): ${cutShort}.`] : []),
          ],
        };
      } finally {
        forget();
        await teardown();
      }
    },
  };
}

/** `npm run bench -- origin`. */
export const origin: Suite = originSuite();
