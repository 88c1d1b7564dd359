import { spawn } from "node:child_process";
import { createServer, type Server } from "node:http";
import { createRequire } from "node:module";
import { freePort } from "./free-port.js";

/**
 * Push services for the tests, on this machine. The local push service is web-push-testing's, as
 * `npm start` runs it: it hands out subscriptions, checks each push's VAPID signature and decrypts its
 * aes128gcm body with the subscription's keys. The scripted one answers as a push service in trouble
 * does (503 twice then 201, or 410), to see the consumer retry and drop; it only counts what it gets.
 */

const serverScript = createRequire(import.meta.url).resolve("web-push-testing/src/bin/server.js");

export interface RunningService {
  url: string;
  stop(): Promise<void>;
}

/** web-push-testing's server on a port of its own, answering once it is up. */
export async function startLocalPushService(port?: number): Promise<RunningService> {
  const at = port ?? (await freePort());
  const child = spawn(process.execPath, [serverScript, String(at)], { stdio: ["ignore", "ignore", "inherit"] });
  const url = `http://localhost:${at}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the local push service exited (${child.exitCode})`);
    const up = await fetch(`${url}/status`, { method: "POST" }).then((r) => r.ok, () => false);
    if (up) break;
    if (Date.now() > deadline) {
      child.kill();
      throw new Error("the local push service did not answer in 15 s");
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill();
      }),
  };
}

/**
 * POST /flaky/<id>: 503 for the first two pushes to <id>, 201 after. POST /gone/<id>: 410. POST /ok/<id>:
 * 201. GET /hits/<mode>/<id>: how many pushes reached that address, with the last one's headers.
 */
export async function startScriptedPushService(): Promise<RunningService> {
  const hits = new Map<string, { count: number; headers: Record<string, string | string[] | undefined> }>();
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    req.resume();
    req.on("end", () => {
      if (req.method === "GET" && path.startsWith("/hits/")) {
        res.writeHead(200, { "content-type": "application/json" });
        return res.end(JSON.stringify(hits.get(path.slice("/hits".length)) ?? { count: 0, headers: {} }));
      }
      const seen = { count: (hits.get(path)?.count ?? 0) + 1, headers: req.headers };
      hits.set(path, seen);
      const status = path.startsWith("/gone/") ? 410 : path.startsWith("/flaky/") && seen.count <= 2 ? 503 : 201;
      res.writeHead(status).end();
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${port}`, stop: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
