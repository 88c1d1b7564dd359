import { z } from "zod";
import type { SlotDatesQuery, SlotsQuery } from "../../contract/booking.js";
import { readLocation, writeLocation } from "../location-cache.js";

/**
 * Slot availability (`GET /api/slots`, and the days with free seats, `GET /api/slots/dates`) as the edge
 * serves it: one answer per (region, date) or per region's dates, kept about a second per isolate and per
 * location (the Cache API), so a surge of admitted citizens costs the origin about one read per key per
 * second per location instead of one per citizen. The same pattern as the
 * queue snapshots (queue/snapshot-cache.ts): a stale answer is served while exactly one request refreshes
 * it, no request ever awaits a promise another request created (workerd cancels such a wait when the other
 * request ends first), and a cold isolate's first requests wait briefly on their own timers for the one
 * read filling it. Availability a second old is what a person sees anyway by the time they tap a slot;
 * the booking itself is never cached, and the origin refuses a full slot (409 `slot_full`).
 */

/** How long an answer is served without asking the origin again. */
export const SLOTS_TTL_MS = 1_000;
/** A refresh that has not come back in this long is presumed lost; the next request may try its own. */
export const SLOTS_REFRESH_TIMEOUT_MS = 3_000;
/** How old an answer may be and still be served while a refresh is under way or has failed. */
const MAX_STALE_MS = 10_000;
/**
 * A cold isolate has nothing stale to serve: while the first request reads the origin, the others look in
 * the isolate's cache every this often, on their own timers, until it is filled or the read is over.
 */
const COLD_WAIT_STEP_MS = 10;
/** Bounds the isolate cache: 17 regions times a few weeks of dates (and each region's dates), with room to spare. */
const MAX_CACHED_KEYS = 2_048;

/** An origin answer of 200 to a slot read: its body as the origin wrote it, and when the edge got it. */
export interface CachedSlots {
  body: string;
  fetchedAt: number;
}

/** Reads the origin for a key; resolves to the answer to cache, or to a Response to send as it is. */
export type SlotsRead = () => Promise<CachedSlots | Response>;

const answers = new Map<string, CachedSlots>();
/** Keys some request is refreshing, and since when: a flag, never a shared promise. */
const refreshing = new Map<string, number>();

/** The cache key of a query: its parsed values, so `?date=X&region=Y` and `?region=Y&date=X` share one. */
export function slotsKey(query: SlotsQuery): string {
  return `${query.region ?? ""}|${query.date ?? ""}`;
}

/** The cache key of a region's dates: apart from every slot list's key, which holds a "|". */
export function slotDatesKey(query: SlotDatesQuery): string {
  return `dates:${query.region}`;
}

/**
 * The slots for `key`: this isolate's answer when younger than SLOTS_TTL_MS; else, if a refresh is under
 * way, the stale one; else this request refreshes it (from the location's cache if another isolate just
 * did, from the origin through `read` otherwise). A Response from `read` (a refusal, the origin's 4xx) is
 * passed on uncached; a failure of `read` is answered with the stale answer if there is one.
 */
export async function cachedSlots(key: string, now: number, read: SlotsRead): Promise<CachedSlots | Response> {
  const found = answers.get(key);
  const cached = found && now - found.fetchedAt <= MAX_STALE_MS ? found : undefined;
  if (cached && now - cached.fetchedAt < SLOTS_TTL_MS) return cached;
  const since = refreshing.get(key);
  if (since !== undefined && now - since < SLOTS_REFRESH_TIMEOUT_MS) {
    if (cached) return cached;
    const arrived = await firstFill(key, since);
    if (arrived) return arrived;
  }
  // Set before the first await, so concurrent requests of this isolate see it and serve the stale answer.
  refreshing.set(key, now);
  let result: CachedSlots | Response;
  try {
    const shared = await readShared(key);
    if (shared && now - shared.fetchedAt < SLOTS_TTL_MS && (!cached || shared.fetchedAt > cached.fetchedAt)) {
      remember(key, shared);
      result = shared;
    } else {
      result = await read();
      if (!(result instanceof Response)) {
        remember(key, result);
        await writeShared(key, result);
      }
    }
  } catch (err) {
    // The origin is failing or the breaker holds it back: a recent answer is better than an error. The
    // flag stays until SLOTS_REFRESH_TIMEOUT_MS, so the requests behind this one serve it too. With
    // nothing to serve, the flag goes: the requests waiting for this read each try their own.
    if (cached) return cached;
    if (refreshing.get(key) === now) refreshing.delete(key);
    throw err;
  }
  if (refreshing.get(key) === now) refreshing.delete(key);
  return result;
}

/**
 * Waits on this request's own timer for the read another request of the isolate began at `since` to fill
 * `key`; undefined once that read is over without an answer to share, or presumed lost.
 */
async function firstFill(key: string, since: number): Promise<CachedSlots | undefined> {
  for (let waited = 0; waited < SLOTS_REFRESH_TIMEOUT_MS; waited += COLD_WAIT_STEP_MS) {
    await new Promise((resolve) => setTimeout(resolve, COLD_WAIT_STEP_MS));
    const filled = answers.get(key);
    if (filled && filled.fetchedAt >= since) return filled;
    if (refreshing.get(key) !== since) return undefined;
  }
  return undefined;
}

function remember(key: string, entry: CachedSlots): void {
  if (answers.size >= MAX_CACHED_KEYS && !answers.has(key)) {
    const oldest = answers.keys().next().value;
    if (oldest !== undefined) answers.delete(oldest);
  }
  answers.delete(key);
  answers.set(key, entry);
}

/** The Cache API key of a query's answer: a synthetic URL no request from outside can reach. */
function sharedKey(key: string): string {
  return `https://slots.waiting-room.internal/${encodeURIComponent(key)}`;
}

const sharedEntry = z.object({ fetchedAt: z.number(), body: z.string() });

function readShared(key: string): Promise<CachedSlots | undefined> {
  return readLocation(sharedKey(key), sharedEntry, "slots");
}

function writeShared(key: string, entry: CachedSlots): Promise<void> {
  return writeLocation(sharedKey(key), entry, SLOTS_TTL_MS, "slots");
}
