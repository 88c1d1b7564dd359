/**
 * Miniflare as wrangler runs it, for `npm start` (scripts/edge.ts) and the bench (bench/lib/miniflare.ts).
 *
 * The top-level `miniflare` package is the 5.x beta the Cloudflare vitest plugin needs; wrangler 4 ships
 * its own 4.x copy, nested where nothing may import it by name. `miniflare-v4` in package.json is an npm
 * alias pinned to exactly the version wrangler depends on, so the Miniflare and workerd that serve the edge
 * are the ones wrangler's `unstable_getMiniflareWorkerOptions` writes options for. Upgrading wrangler
 * without moving the alias would silently mix two versions; this module refuses that at import, naming both.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { z } from "zod";

const root = fileURLToPath(new URL("..", import.meta.url));

const wranglerManifest = z.object({ dependencies: z.object({ miniflare: z.string() }) });
const miniflareManifest = z.object({ version: z.string() });

function readManifest(path: string): unknown {
  return JSON.parse(readFileSync(`${root}node_modules/${path}/package.json`, "utf8"));
}

/** The exact Miniflare version wrangler depends on, and the one the `miniflare-v4` alias installed. */
export const miniflareVersions = {
  wrangler: wranglerManifest.parse(readManifest("wrangler")).dependencies.miniflare,
  alias: miniflareManifest.parse(readManifest("miniflare-v4")).version,
};

if (miniflareVersions.alias !== miniflareVersions.wrangler) {
  throw new Error(
    `package.json's miniflare-v4 is miniflare@${miniflareVersions.alias}, but wrangler depends on miniflare@${miniflareVersions.wrangler}: ` +
      `pin "miniflare-v4": "npm:miniflare@${miniflareVersions.wrangler}" and run npm install`,
  );
}

export { Log, LogLevel, Miniflare, type MiniflareOptions, type PeriodType } from "miniflare-v4";
