/**
 * The development provider as `npm start` runs it (`tsx src/dev-idp/server.ts`, its own process), on a
 * free port with a state folder of the test's choosing, and everything it prints.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll } from "vitest";
import { freePort } from "../../support/free-port.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "../../..");

export interface RunningIdp {
  /** Its issuer and base URL, http://127.0.0.1:<port>. */
  url: string;
  clientId: string;
  clientSecret: string;
  /** The secret POST /dev/id-tokens requires as `Authorization: Bearer <mintSecret>`. */
  mintSecret: string;
  /** The one redirect URI registered for the client; nothing listens there, tests read the redirect. */
  redirectUri: string;
  stateDir: string;
  output(): string;
  /** Whether the process is still running (a bad request must never end it). */
  alive(): boolean;
  stop(): Promise<void>;
}

const made: string[] = [];
/** A fresh, empty state folder, removed by `removeStateDirs`. */
export function newStateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "dev-idp-test-"));
  made.push(dir);
  return dir;
}

/** Removes every state folder `newStateDir` made in this test file (call after the providers stopped). */
export function removeStateDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** Starts the provider process; resolves once its discovery document answers. */
export async function startIdp(opts: { stateDir?: string; clientSecret?: string; port?: number } = {}): Promise<RunningIdp> {
  const port = opts.port ?? (await freePort());
  const stateDir = opts.stateDir ?? newStateDir();
  const clientId = "waiting-room-edge";
  const clientSecret = opts.clientSecret ?? randomBytes(32).toString("base64url");
  const mintSecret = randomBytes(32).toString("base64url");
  const redirectUri = "http://127.0.0.1:9/auth/callback";
  const { output, exit, child } = runIdp({
    IDP_PORT: String(port),
    IDP_STATE_DIR: stateDir,
    IDP_CLIENT_ID: clientId,
    IDP_CLIENT_SECRET: clientSecret,
    DEV_IDP_MINT_SECRET: mintSecret,
    IDP_REDIRECT_URIS: `${redirectUri},http://localhost:9/auth/callback`,
  });
  const url = `http://127.0.0.1:${port}`;
  let exited = false;
  void exit.then(() => (exited = true));
  const stop = async () => {
    if (exited || !child.pid) return;
    process.kill(-child.pid, "SIGTERM");
    await Promise.race([exit, new Promise((r) => setTimeout(r, 5_000))]);
    if (!exited) process.kill(-child.pid, "SIGKILL");
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited) throw new Error(`the provider exited while starting:\n${output()}`);
    try {
      const res = await fetch(`${url}/.well-known/openid-configuration`);
      if (res.ok) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the provider did not start within 30 s:\n${output()}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, clientId, clientSecret, mintSecret, redirectUri, stateDir, output, alive: () => !exited, stop };
}

/** Runs the provider's entry with these IDP_* variables (and mint secret) and no others; for start-up failures too. */
export function runIdp(env: Record<string, string>): { child: ChildProcess; output: () => string; exit: Promise<number | null> } {
  // The test's own IDP_* settings must not leak in from the shell that runs the tests.
  const childEnv: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1" };
  for (const name of Object.keys(childEnv)) if (name.startsWith("IDP_") || name === "DEV_IDP_MINT_SECRET") delete childEnv[name];
  Object.assign(childEnv, env);
  const child: ChildProcess = spawn(join(root, "node_modules/.bin/tsx"), ["src/dev-idp/server.ts"], {
    cwd: root,
    // Its own process group: stopping it reaches tsx and the node process it starts.
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: childEnv,
  });
  let log = "";
  child.stdout?.on("data", (chunk: Buffer) => (log += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (log += chunk.toString()));
  const exit = new Promise<number | null>((resolve) => child.once("exit", (code: number | null) => resolve(code)));
  return { child, output: () => log, exit };
}

/**
 * One provider for a test file: started before its tests, stopped (and its state removed) after them.
 * The handle stands for the provider once `beforeAll` has run; used earlier, it says so.
 */
export function idpForFile(): RunningIdp {
  let idp: RunningIdp | undefined;
  beforeAll(async () => {
    idp = await startIdp();
  });
  afterAll(async () => {
    await idp?.stop();
    removeStateDirs();
  });
  return new Proxy({} as RunningIdp, {
    get(_target, prop) {
      if (!idp) throw new Error("the provider has not started yet (use it inside a test)");
      const value: unknown = Reflect.get(idp, prop);
      return typeof value === "function" ? value.bind(idp) : value;
    },
  });
}

/** POST /dev/id-tokens with the provider's mint secret, as scripts call it. */
export function mintRequest(idp: Pick<RunningIdp, "url" | "mintSecret">, citizens: readonly { phoneNumber: string; birthdate: string }[]): Promise<Response> {
  return fetch(`${idp.url}/dev/id-tokens`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${idp.mintSecret}` },
    body: JSON.stringify({ citizens }),
  });
}
