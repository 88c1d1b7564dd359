import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { z } from "zod";

/*
 * The edge tests run on the workerd of the Workers vitest integration (@cloudflare/vitest-pool-workers),
 * `npm start` and the bench on wrangler's (scripts/miniflare.ts). A behaviour proved in one and shipped
 * in the other is only proved if the two are the same build: this reads which Miniflare and workerd each
 * one resolves in node_modules, as Node would load them.
 */

const root = fileURLToPath(new URL("../..", import.meta.url));
const versions = z.record(z.string(), z.string()).default({});
const manifest = z.object({ version: z.string().default(""), dependencies: versions, devDependencies: versions });

/** The directory of package `name` as Node resolves it from the package in `from`: the nearest node_modules up. */
function resolvePackage(name: string, from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, "node_modules", name);
    if (existsSync(join(candidate, "package.json"))) return candidate;
    if (dir === root || dirname(dir) === dir) throw new Error(`${name} is not installed where ${from} would find it`);
  }
}

function read(dir: string) {
  const { version, dependencies, devDependencies } = manifest.parse(JSON.parse(readFileSync(join(dir, "package.json"), "utf8")));
  return { version, wants: { ...devDependencies, ...dependencies } };
}

/** The Miniflare and workerd that `user` (a package directory) loads, with the versions it asks for. */
function runtimeOf(user: string) {
  const miniflare = resolvePackage("miniflare", user);
  const workerd = resolvePackage("workerd", miniflare);
  return {
    miniflareWanted: read(user).wants.miniflare,
    miniflare: read(miniflare).version,
    workerdWanted: read(miniflare).wants.workerd,
    workerd: read(workerd).version,
  };
}

describe("one workerd", () => {
  const wrangler = resolvePackage("wrangler", root);
  const pool = resolvePackage("@cloudflare/vitest-pool-workers", root);

  it("serves the edge tests, `npm start` and the bench", () => {
    const underWrangler = runtimeOf(wrangler);
    const underPool = runtimeOf(pool);
    const direct = runtimeOf(root); // scripts/miniflare.ts imports `miniflare` by name
    // Each gets exactly what it asks for…
    for (const runtime of [underWrangler, underPool, direct]) {
      expect(runtime.miniflare).toBe(runtime.miniflareWanted);
      expect(runtime.workerd).toBe(runtime.workerdWanted);
    }
    // …and they all ask for the same.
    expect(underPool).toEqual(underWrangler);
    expect(direct).toEqual(underWrangler);
  });

  it("under the wrangler the vitest integration itself runs", () => {
    // The integration reads wrangler.test.toml with its own wrangler; it must be the project's.
    expect(read(resolvePackage("wrangler", pool)).version).toBe(read(wrangler).version);
  });
});
