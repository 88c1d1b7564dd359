import type { z } from "zod";

/**
 * The location's cache (the Workers Cache API), shared by every isolate of a data center, for what the edge
 * keeps about a second: the queue snapshots (queue/snapshot-cache.ts) and slot availability
 * (gate/slot-cache.ts). It is absent outside workerd, a no-op on workers.dev and in previews, and may throw;
 * each of those leaves the isolate's own cache to do the job, so a failure here is logged and read as a
 * miss, never an error.
 */
function locationCache(): Cache | undefined {
  try {
    return typeof caches === "undefined" ? undefined : caches.default;
  } catch {
    return undefined;
  }
}

/** The entry kept under `url` (a synthetic address no request from outside can reach), if it has `schema`'s shape. */
export async function readLocation<T>(url: string, schema: z.ZodType<T>, what: string): Promise<T | undefined> {
  const cache = locationCache();
  if (!cache) return undefined;
  try {
    const hit = await cache.match(url);
    if (!hit) return undefined;
    // Written by this code, but an entry from an older deployment may have another shape.
    const parsed = schema.safeParse(await hit.json());
    return parsed.success ? parsed.data : undefined;
  } catch (err) {
    console.error(`${what} cache read failed:`, err);
    return undefined;
  }
}

/** Keeps `entry` under `url` for about `ttlMs`; readers check its age themselves (max-age is whole seconds). */
export async function writeLocation(url: string, entry: unknown, ttlMs: number, what: string): Promise<void> {
  const cache = locationCache();
  if (!cache) return;
  try {
    const headers = { "content-type": "application/json", "cache-control": `public, max-age=${Math.ceil(ttlMs / 1000)}` };
    await cache.put(url, new Response(JSON.stringify(entry), { headers }));
  } catch (err) {
    console.error(`${what} cache write failed:`, err);
  }
}
