/**
 * `tsx src/dev-idp/server.ts`: the development OpenID Provider that `npm start` runs beside the edge, on
 * 127.0.0.1:IDP_PORT (8789). Reads IDP_PORT, IDP_CLIENT_ID, IDP_CLIENT_SECRET, IDP_REDIRECT_URIS and
 * IDP_STATE_DIR; a bad one stops it here, named. For development and tests only: see docs/local-stack.md.
 */
import { createShapedServer } from "../http/node-client-errors.js";
import { createDevIdp } from "./app.js";
import { IdpConfigError, parseIdpConfig } from "./config.js";
import { loadOrCreateSecrets } from "./state.js";

async function main(): Promise<void> {
  let config;
  try {
    config = parseIdpConfig(process.env);
  } catch (err) {
    if (err instanceof IdpConfigError) {
      console.error(`dev identity provider: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  const { secrets, created } = await loadOrCreateSecrets(config.stateDir);
  if (created) console.log(`generated a signing key (kid ${secrets.signingKey.kid}) and cookie keys into ${config.stateDir}`);
  const idp = createDevIdp(config, secrets, (line) => console.log(line));

  // Node's parser refusals (431 for headers over 16 KB, 400 for malformed requests or no Host) in the error shape.
  const server = createShapedServer(idp.listener);
  // Slow or idle clients must not hold sockets forever.
  server.requestTimeout = 30_000;
  server.headersTimeout = 15_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, "127.0.0.1", () => resolve());
  });
  console.log(`listening on ${config.issuer} (client ${config.clientId}, kid ${secrets.signingKey.kid})`);

  const stop = () => server.close(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

main().catch((err: unknown) => {
  console.error(`dev identity provider could not start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
