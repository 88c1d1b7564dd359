/**
 * Citizens who wait, hold passes and book while a fault happens, and the suite's ledger of every answer
 * they got: each ticket (seq, id), pass and booking. The ledger is what the end of a scenario checks
 * against the truth (the shards, through a join again; the database, directly).
 *
 * Each citizen runs as a person would: gets an id_token from the development provider, joins with it,
 * polls `/api/queue/status` with `Authorization: Bearer <ticket>` at the pace the answer asks (at least
 * 1 s apart, well inside POLL_LIMIT), and once admitted books a slot through the edge with the pass. A
 * request that gets no answer or a 503 is retried later with the same pass, so a booking whose answer was
 * lost is found again by its replay; joins back off (1, 2, 4, 8 s) to stay inside JOIN_LIMIT.
 */
import { randomInt } from "node:crypto";
import { z } from "zod";
import { bookingResponse, slotsResponse } from "../../src/contract/booking.js";
import { errorBody } from "../../src/contract/errors.js";
import { joinResponse, queueStatus, type QueueStatus } from "../../src/contract/queue.js";
import { newPhone } from "../../test/browser/support/identity.js";
import { call, type Answer, type Tally } from "./http.js";
import { sleep } from "./stack.js";

/** The claims of a ticket or pass the suite reads (it is the edge's to verify, the suite only records). */
const tokenClaims = z.object({ jti: z.string(), cohort: z.string(), shard: z.number().int(), seq: z.number().int() });

function claimsOf(token: string): z.infer<typeof tokenClaims> | undefined {
  const part = token.split(".")[1];
  if (!part) return undefined;
  try {
    const parsed = tokenClaims.safeParse(JSON.parse(Buffer.from(part, "base64url").toString("utf8")));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export interface BookingRecord {
  id: string;
  slotId: number;
}

export interface Citizen {
  index: number;
  phone: string;
  birthdate: string;
  idToken: string;
  ticket?: string;
  seq?: number;
  jti?: string;
  shard?: number;
  cohort?: string;
  pass?: string;
  /** Every booking a 2xx answer (or an already_booked refusal) named for this citizen. */
  bookings: Map<string, BookingRecord>;
  /** A booking was asked for and its outcome is not known (no answer, 503): the citizen retries. */
  bookingPending: boolean;
  /** Join answers that named another place than the one the ledger holds. */
  placeChanges: string[];
  /** Status answers of `expired` for a ticket the citizen held. */
  expiredSeen: number;
  /** Passes the booking API refused (401). */
  passRefused: number;
  joinAttempts: number;
  /** When this citizen shows up: spread over the arrival window. */
  arriveAt: number;
  /** When (ms since the epoch) the first join was answered, and when the first pass arrived. */
  joinedAt?: number;
  admittedAt?: number;
}

export interface CrowdOptions {
  citizens: number;
  /** Citizens arrive over this many ms from start(); 0: all at once. */
  arrivalMs: number;
  /** Slots booked first, so that seats run out and slots are contended. */
  contendedSlots?: number;
  /** Requests in flight at most, so the crowd does not starve the 2-core machine. */
  concurrency?: number;
  /** false: a citizen stops once admitted, holding the pass for a scenario to use (default: books). */
  book?: boolean;
}

/** A counting semaphore: the crowd's bound on requests in flight. */
class Gate {
  private free: number;
  private readonly waiters: Array<() => void> = [];
  constructor(size: number) {
    this.free = size;
  }
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiters.push(resolve));
    try {
      return await fn();
    } finally {
      const next = this.waiters.shift();
      if (next) next();
      else this.free++;
    }
  }
}

const jsonHeaders = { "content-type": "application/json" };
const BIRTH_YEARS = [1962, 1966] as const;

export class Crowd {
  readonly citizens: Citizen[] = [];
  private stopped = true;
  private loops: Promise<void>[] = [];
  private readonly gate: Gate;
  private slotIds: number[] = [];
  private readonly fullSlots = new Set<number>();
  private slotsLoading: Promise<void> | undefined;
  private startedAt = 0;

  constructor(
    private readonly stack: { edge: string; idp: string; mintSecret: string },
    readonly tally: Tally,
    private readonly options: CrowdOptions,
  ) {
    this.gate = new Gate(options.concurrency ?? 24);
  }

  /** id_tokens from the development provider, 1,000 citizens per call at most. */
  async mint(): Promise<void> {
    const start = this.citizens.length;
    const fresh: Citizen[] = [];
    for (let i = 0; i < this.options.citizens; i++) {
      const year = randomInt(BIRTH_YEARS[0], BIRTH_YEARS[1] + 1);
      fresh.push({
        index: start + i,
        // A number no other citizen of the process has: a scenario's crowds share one provider, which
        // refuses a number it knows under another birth date (409).
        phone: newPhone(),
        birthdate: `${year}-0${randomInt(1, 10)}-1${randomInt(0, 10)}`,
        idToken: "",
        bookings: new Map(),
        bookingPending: false,
        placeChanges: [],
        expiredSeen: 0,
        passRefused: 0,
        joinAttempts: 0,
        arriveAt: this.options.arrivalMs > 0 ? randomInt(0, this.options.arrivalMs) : 0,
      });
    }
    for (let i = 0; i < fresh.length; i += 1000) {
      const batch = fresh.slice(i, i + 1000);
      const res = await fetch(`${this.stack.idp}/dev/id-tokens`, {
        method: "POST",
        headers: { ...jsonHeaders, authorization: `Bearer ${this.stack.mintSecret}` },
        body: JSON.stringify({ citizens: batch.map((c) => ({ phoneNumber: c.phone, birthdate: c.birthdate })) }),
      });
      const body = z.object({ idTokens: z.array(z.string()) }).safeParse(await res.json().catch(() => undefined));
      if (res.status !== 200 || !body.success || body.data.idTokens.length !== batch.length) {
        throw new Error(`the development provider's /dev/id-tokens answered ${res.status}`);
      }
      batch.forEach((c, k) => (c.idToken = body.data.idTokens[k]!));
    }
    this.citizens.push(...fresh);
  }

  /** Every citizen starts its own loop (arriving over the arrival window) until stop(). */
  start(): void {
    this.stopped = false;
    this.startedAt = Date.now();
    this.loops = this.citizens.map((c) => this.live(c));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
  }

  /**
   * After the fault: every citizen without an answered join joins, and every citizen holding a pass
   * without a known booking books, until done or `timeoutMs`, so the ledger holds every outcome.
   */
  async settle(timeoutMs: number): Promise<{ unsettled: number }> {
    const deadline = Date.now() + timeoutMs;
    const open = () => this.citizens.filter((c) => c.ticket === undefined || (c.pass !== undefined && c.bookings.size === 0));
    while (open().length && Date.now() < deadline) {
      await Promise.all(
        open().map((c) => this.gate.run(async () => {
          if (c.ticket === undefined) await this.join(c);
          else await this.book(c);
        })),
      );
      if (open().length) await sleep(1_000);
    }
    return { unsettled: open().length };
  }

  counts() {
    const c = this.citizens;
    return {
      citizens: c.length,
      joined: c.filter((x) => x.ticket !== undefined).length,
      admitted: c.filter((x) => x.pass !== undefined).length,
      booked: c.filter((x) => x.bookings.size > 0).length,
      waiting: c.filter((x) => x.ticket !== undefined && x.pass === undefined).length,
    };
  }

  private async live(c: Citizen): Promise<void> {
    await this.pause(c.arriveAt - (Date.now() - this.startedAt));
    let backoff = 1_000;
    while (!this.stopped) {
      if (c.ticket === undefined) {
        const joined = await this.gate.run(() => this.join(c));
        if (!joined) {
          await this.pause(backoff + randomInt(0, 500));
          backoff = Math.min(backoff * 2, 8_000);
        }
        continue;
      }
      if (c.expiredSeen > 0) return;
      if (c.pass === undefined) {
        const next = await this.gate.run(() => this.poll(c));
        await this.pause(Math.min(Math.max(next, 1_000), 3_000) + randomInt(0, 300));
        continue;
      }
      if (this.options.book === false) return;
      if (c.bookings.size === 0) {
        const done = await this.gate.run(() => this.book(c));
        if (!done) await this.pause(1_000 + randomInt(0, 1_000));
        continue;
      }
      return;
    }
  }

  /** Sleeps, waking early when the crowd is stopped. */
  private async pause(ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (!this.stopped && Date.now() < until) await sleep(Math.min(200, until - Date.now()));
  }

  /** Joins (or joins again) with the citizen's id_token; records the place. True when answered 200. */
  async join(c: Citizen): Promise<boolean> {
    c.joinAttempts++;
    const answer = await call(this.tally, `${this.stack.edge}/api/queue/join`, {
      method: "POST",
      headers: jsonHeaders,
      body: JSON.stringify({ idToken: c.idToken }),
    });
    if (!answer.ok || answer.status !== 200) return false;
    const body = joinResponse.safeParse(answer.json);
    const claims = body.success ? claimsOf(body.data.ticket) : undefined;
    if (!body.success || !claims) return false;
    if (c.seq !== undefined && (c.seq !== claims.seq || c.jti !== claims.jti || body.data.previousPlaceExpired)) {
      c.placeChanges.push(`seq ${c.seq} -> ${claims.seq}${body.data.previousPlaceExpired ? " (previous place expired)" : ""}`);
    }
    c.ticket = body.data.ticket;
    c.joinedAt ??= Date.now();
    c.seq = claims.seq;
    c.jti = claims.jti;
    c.shard = claims.shard;
    c.cohort = claims.cohort;
    this.noteStatus(c, body.data.status);
    return true;
  }

  /** One status poll; returns when to poll next. */
  private async poll(c: Citizen): Promise<number> {
    const answer = await call(this.tally, `${this.stack.edge}/api/queue/status`, { headers: { authorization: `Bearer ${c.ticket}` } });
    if (!answer.ok || answer.status !== 200) return 2_000;
    const status = queueStatus.safeParse(answer.json);
    if (!status.success) return 2_000;
    this.noteStatus(c, status.data);
    return status.data.nextPollMs;
  }

  private noteStatus(c: Citizen, status: QueueStatus): void {
    if (status.seq !== c.seq) c.placeChanges.push(`status named seq ${status.seq} for ticket seq ${c.seq}`);
    if (status.state === "expired") c.expiredSeen++;
    if (status.state === "admitted" && status.pass) {
      c.pass = status.pass;
      c.admittedAt ??= Date.now();
    }
  }

  /** Books a slot with the pass; true once the outcome is known (a booking, or a refusal to act on). */
  private async book(c: Citizen): Promise<boolean> {
    await this.loadSlots(c.pass!);
    const slotId = this.chooseSlot();
    if (slotId === undefined) return false;
    c.bookingPending = true;
    const answer: Answer = await call(this.tally, `${this.stack.edge}/api/bookings`, {
      method: "POST",
      headers: { ...jsonHeaders, authorization: `Bearer ${c.pass}` },
      body: JSON.stringify({ slotId }),
    });
    if (!answer.ok) return false;
    if (answer.status === 200 || answer.status === 201) {
      const body = bookingResponse.safeParse(answer.json);
      if (body.success) {
        c.bookings.set(body.data.booking.id, { id: body.data.booking.id, slotId: body.data.booking.slot.id });
        c.bookingPending = false;
        return true;
      }
      return false;
    }
    const refusal = errorBody.safeParse(answer.json);
    const code = refusal.success ? refusal.data.error.code : undefined;
    if (code === "slot_full") this.fullSlots.add(slotId);
    if (code === "already_booked" && refusal.success) {
      const held = bookingResponse.shape.booking.safeParse(refusal.data.error.booking);
      if (held.success) {
        c.bookings.set(held.data.id, { id: held.data.id, slotId: held.data.slot.id });
        c.bookingPending = false;
        return true;
      }
    }
    if (answer.status === 401) c.passRefused++;
    return false;
  }

  /** The bookable slots of one region, read once with the first pass. */
  private async loadSlots(pass: string): Promise<void> {
    if (this.slotIds.length) return;
    this.slotsLoading ??= (async () => {
      const answer = await call(this.tally, `${this.stack.edge}/api/slots?region=11`, { headers: { authorization: `Bearer ${pass}` } });
      const body = answer.ok && answer.status === 200 ? slotsResponse.safeParse(answer.json) : undefined;
      if (body?.success) this.slotIds = body.data.slots.filter((s) => s.remaining > 0).map((s) => s.id).sort((a, b) => a - b);
    })().finally(() => (this.slotsLoading = undefined));
    await this.slotsLoading;
  }

  /** A slot among the first few not known to be full: contended, so seats run out during the scenario. */
  private chooseSlot(): number | undefined {
    const open = this.slotIds.filter((id) => !this.fullSlots.has(id)).slice(0, this.options.contendedSlots ?? 4);
    return open.length ? open[randomInt(0, open.length)] : undefined;
  }
}
