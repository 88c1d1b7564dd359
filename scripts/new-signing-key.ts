/**
 * Prints PASS_SIGNING_KEYS with a new ES256 key in front of the given current ones, for rotation:
 *   npx tsx scripts/new-signing-key.ts > keys.json            # the first key
 *   npx tsx scripts/new-signing-key.ts keys.json > next.json  # newest first; old keys keep verifying
 *   npx wrangler secret put PASS_SIGNING_KEYS < next.json
 * Drop an old key once every pass it signed has expired (PASS_TTL_SECONDS after the rotation).
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { signingJwk } from "../src/edge/config.js";
import { generateSigningJwk } from "./dev-secrets.js";

const current = process.argv[2] ? z.array(signingJwk).parse(JSON.parse(readFileSync(process.argv[2], "utf8"))) : [];
const kid = `pass-${new Date().toISOString().slice(0, 10)}-${Math.random().toString(36).slice(2, 8)}`;
process.stdout.write(`${JSON.stringify([await generateSigningJwk(kid), ...current])}\n`);
