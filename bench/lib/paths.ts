import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository's root folder. */
export const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
/** Where every suite writes `<name>.json`, and run.ts the summary. */
export const resultsDir = join(root, "bench/results");
