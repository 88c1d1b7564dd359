/**
 * Miniflare as wrangler runs it, for `npm start` (scripts/edge.ts) and the bench (bench/lib/miniflare.ts).
 *
 * package.json pins `miniflare` to exactly the version wrangler depends on, and the Workers vitest
 * integration (@cloudflare/vitest-pool-workers) depends on that same version, so `npm start`, the bench
 * and the edge tests all run one Miniflare and one workerd, the ones wrangler's
 * `unstable_getMiniflareWorkerOptions` writes options for. Upgrading wrangler without moving the pin
 * would install a second Miniflare beside wrangler's and silently mix two versions; this module refuses
 * that at import, naming both (test/build/workerd-version.test.ts checks the vitest integration too).
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

/** The exact Miniflare version wrangler depends on, and the one installed at the top of node_modules. */
export const miniflareVersions = {
  wrangler: wranglerManifest.parse(readManifest("wrangler")).dependencies.miniflare,
  installed: miniflareManifest.parse(readManifest("miniflare")).version,
};

if (miniflareVersions.installed !== miniflareVersions.wrangler) {
  throw new Error(
    `node_modules/miniflare is miniflare@${miniflareVersions.installed}, but wrangler depends on miniflare@${miniflareVersions.wrangler}: ` +
      `pin "miniflare": "${miniflareVersions.wrangler}" in package.json and run npm install`,
  );
}

export { Log, LogLevel, Miniflare, type MiniflareOptions, type PeriodType } from "miniflare";
