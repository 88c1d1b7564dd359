/**
 * The whole system, started exactly as `npm start` starts it (`node --import tsx scripts/start.ts`): the edge, the
 * origin and the development identity provider, on free ports with fresh state folders, and a headless
 * Chromium to look at it with (the system's, or the one npm installed: test/support/browser.ts). Nothing here reaches beyond 127.0.0.1: the browser refuses every
 * address but the edge's and the provider's.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { probeHttp } from "../../../scripts/http-probe.js";
import { launchChromium } from "../../support/browser.js";
import { freePort } from "../../support/free-port.js";

export { freePort };

export const root = join(dirname(fileURLToPath(import.meta.url)), "../../..");
/** Screenshots of each step: git-ignored test artifacts. */
export const artifactsDir = join(root, "test-results", "browser");

/** Far from Korea, so a page that used the device's zone instead of Korea time would show it. */
export const DEVICE_TIME_ZONE = "America/Los_Angeles";
const READY_LINE = "Waiting room ready";
/** The banner's last line: the lines between (the operator link among them) are printed by then. */
const BANNER_END = "A process that dies is restarted";
const START_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 15_000;

/** The processes `npm start` names on its console (`[start] origin pid 1234`). */
export type StackProcess = "supervisor" | "origin" | "identity provider" | "edge";

export interface Stack {
  /** The edge, as a citizen's browser reaches it: http://127.0.0.1:<port> */
  base: string;
  /** The origin on Node, as the edge would reach it without a relay in between. */
  origin: string;
  /** The development OpenID Provider (its issuer): http://127.0.0.1:<port> */
  idp: string;
  /** The provider's mint secret the stack was started with: POST /dev/id-tokens needs it as a bearer secret. */
  mintSecret: string;
  /** The local push service (web-push-testing): http://localhost:<port> (docs/notifications.md). */
  pushService: string;
  /** The edge's state folder (EDGE_STATE_DIR): Durable Objects, the demo openings, `npm run ops` overrides. */
  edgeState: string;
  /** Everything the stack printed, for failure messages. */
  output(): string;
  /** The pid `npm start` last printed for this process (a restarted child has a new one). */
  pid(name: StackProcess): number;
  stop(): Promise<void>;
}

/** Whether a process with this pid exists. */
export function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Every pid printed for `name` in `output`, oldest first. */
export function printedPids(output: string, name: StackProcess): number[] {
  return [...output.matchAll(/^\[start\] (supervisor|origin|identity provider|edge) pid (\d+)$/gm)].filter((m) => m[1] === name).map((m) => Number(m[2]));
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/**
 * Starts `npx tsx scripts/start.ts` with `bindings` overriding the edge's, and waits until it is ready. A
 * port taken by another test between the pick and the child's `listen` is picked again, up to three times.
 */
export async function startStack(bindings: Record<string, string>, ports: StackOptions = {}): Promise<Stack> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startStackOnce(bindings, ports);
    } catch (err) {
      if (attempt >= 3 || !(err instanceof Error && err.message.includes("EADDRINUSE"))) throw err;
    }
  }
}

/** `origin`: the origin's port; `edgeState`: an edge state folder of the test's own, kept when the stack stops (a restart reads it). */
export interface StackOptions {
  origin?: number;
  edgeState?: string;
}

async function startStackOnce(bindings: Record<string, string>, ports: StackOptions): Promise<Stack> {
  const [edgePort, originPort, idpPort, pushPort] = [await freePort(), ports.origin ?? (await freePort()), await freePort(), await freePort()];
  const stateRoot = mkdtempSync(join(tmpdir(), "waiting-room-browser-"));
  const edgeState = ports.edgeState ?? join(stateRoot, "edge-state");
  const pgliteDir = join(stateRoot, "pglite");
  // Fresh provider keys and an empty phone registry: no test sees another run's citizens.
  const idpState = join(stateRoot, "idp-state");
  mkdirSync(edgeState, { recursive: true });
  const base = `http://127.0.0.1:${edgePort}`;
  const idp = `http://127.0.0.1:${idpPort}`;
  // Handed to start.ts, which prefers the environment to .dev.vars: the tests never read the checkout's secrets.
  const mintSecret = randomBytes(32).toString("base64url");

  // The command `npm start` runs, in a process group of its own as a terminal would give it; start.ts
  // stops its children (each in a group of its own) when it receives SIGTERM. No npx or tsx wrapper in
  // between: tsx's command line relays signals and kills a child that is slow to acknowledge one.
  const child = spawn(process.execPath, ["--import", "tsx", "scripts/start.ts"], {
    cwd: root,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      ...bindings,
      EDGE_PORT: String(edgePort),
      ORIGIN_PORT: String(originPort),
      EDGE_STATE_DIR: edgeState,
      PGLITE_DIR: pgliteDir,
      IDP_PORT: String(idpPort),
      IDP_STATE_DIR: idpState,
      PUSH_SERVICE_PORT: String(pushPort),
      DEV_IDP_MINT_SECRET: mintSecret,
      NO_COLOR: "1",
    },
  });
  let log = "";
  child.stdout?.on("data", (chunk: Buffer) => (log += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (log += chunk.toString()));

  const stop = async () => {
    if (!exited(child) && child.pid) {
      const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        // Already gone.
      }
      const timer = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), STOP_TIMEOUT_MS).unref());
      if ((await Promise.race([gone, timer])) === "timeout") {
        // start.ts did not finish stopping: its children (each in a group of its own, the latest of each
        // name being the one running) would outlive the test run.
        for (const pid of [child.pid, ...(["edge", "origin", "identity provider"] as const).flatMap((name) => printedPids(log, name).slice(-1))]) {
          try {
            process.kill(-pid, "SIGKILL");
          } catch {
            // Already gone.
          }
        }
      }
    }
    // The edge must have let go of its port.
    const deadline = Date.now() + STOP_TIMEOUT_MS;
    while (Date.now() < deadline && ((await answers(`${base}/api/cohorts`)) || (await answers(`${idp}/.well-known/openid-configuration`)))) await sleep(250);
    rmSync(stateRoot, { recursive: true, force: true });
  };

  try {
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!log.includes(READY_LINE) || !log.slice(log.lastIndexOf(READY_LINE)).includes(BANNER_END)) {
      if (exited(child)) throw new Error(`the stack exited while starting:\n${log}`);
      if (Date.now() > deadline) throw new Error(`the stack was not ready within ${START_TIMEOUT_MS / 1000} s:\n${log}`);
      await sleep(200);
    }
    if (!(await answers(`${base}/api/cohorts`))) throw new Error(`ready, but ${base}/api/cohorts does not answer:\n${log}`);
    if (!(await answers(`${idp}/.well-known/openid-configuration`))) throw new Error(`ready, but the identity provider at ${idp} does not answer:\n${log}`);
  } catch (err) {
    await stop();
    throw err;
  }
  const pid = (name: StackProcess) => {
    const pids = printedPids(log, name);
    if (pids.length === 0) throw new Error(`the stack printed no pid for the ${name}:\n${log}`);
    return pids[pids.length - 1]!;
  };
  return { base, origin: `http://127.0.0.1:${originPort}`, idp, mintSecret, pushService: `http://localhost:${pushPort}`, edgeState, output: () => log, pid, stop };
}

const answers = (url: string) => probeHttp(url, (status) => status >= 200 && status < 300);

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A headless Chromium: the system's when there is one, else the one npm installed. */
export async function launchBrowser(): Promise<Browser> {
  return launchChromium();
}

/**
 * A citizen's browser: its own cookies and storage, a 360 px wide phone screen, and no way off the
 * machine. Requests to anywhere but the stack's edge and its identity provider are aborted and listed in
 * `offsite`.
 */
export async function citizenContext(browser: Browser, stack: Pick<Stack, "base" | "idp">): Promise<{ context: BrowserContext; offsite: string[] }> {
  const context = await browser.newContext({ viewport: { width: 360, height: 740 }, deviceScaleFactor: 1, locale: "ko-KR", timezoneId: DEVICE_TIME_ZONE });
  const offsite: string[] = [];
  await context.route(
    (url) => url.origin !== stack.base && url.origin !== stack.idp && url.protocol !== "data:",
    (route) => {
      offsite.push(route.request().url());
      return route.abort();
    },
  );
  return { context, offsite };
}

/** Writes a screenshot of the page as a test artifact. */
export async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(artifactsDir, { recursive: true });
  await page.screenshot({ path: join(artifactsDir, `${name}.png`), fullPage: true });
}

/** Stops what a suite started: the browser first (its pages still talk to the stack), then the stack. */
export async function stopAll(browser: Browser | undefined, stack: Stack | undefined): Promise<void> {
  try {
    await browser?.close();
  } finally {
    await stack?.stop();
  }
}
