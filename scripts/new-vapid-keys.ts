/**
 * Prints a new Web Push (VAPID) key pair, one `NAME=value` a line, for a deployment's secrets:
 *   npx tsx scripts/new-vapid-keys.ts
 *   npx wrangler secret put VAPID_PUBLIC_KEY    # paste its value
 *   npx wrangler secret put VAPID_PRIVATE_KEY   # paste its value
 * The public key is base64url of the uncompressed P-256 point, the private one of the 32-byte scalar.
 */
import { generateVapidKeys } from "./dev-secrets.js";

for (const [name, value] of Object.entries(await generateVapidKeys())) process.stdout.write(`${name}=${value}\n`);
