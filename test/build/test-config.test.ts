import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "smol-toml";
import { describe, expect, it } from "vitest";

/*
 * The test Worker's configuration (wrangler.test.toml) repeats wrangler.toml's: the edge tests and the
 * fault suite must meet the bindings, limits, assets and objects that are deployed, only with the test
 * Worker as the entry.
 */

const root = fileURLToPath(new URL("../..", import.meta.url));
const read = (file: string) => parse(readFileSync(join(root, file), "utf8")) as Record<string, unknown>;

describe("wrangler.test.toml", () => {
  it("is wrangler.toml with the test Worker as its entry", () => {
    const { name: productionName, main: productionMain, ...production } = read("wrangler.toml");
    const { name, main, ...test } = read("wrangler.test.toml");
    expect([productionName, productionMain]).toEqual(["waiting-room-edge", "src/edge/index.ts"]);
    expect([name, main]).toEqual(["waiting-room-edge-test", "test/workers/edge-test.ts"]);
    expect(test).toEqual(production);
  });
});
