/**
 * A private PostgreSQL server for the fault suite: initdb'd into a temporary folder and run with pg_ctl
 * as the `postgres` user (the server refuses to run as root), on a free loopback port, so the suite may
 * stop it (`pg_ctl stop -m immediate`, a crash as far as the server knows) and start it again without
 * touching any server of the machine. The stack reaches it as it would reach Neon: the Neon serverless
 * driver through the WebSocket-to-TCP bridge (NEON_WS_PROXY), which this process runs.
 */
import { execFile } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { neonConfig, Pool } from "@neondatabase/serverless";
import ws from "ws";
import { useNeonWsProxy } from "../../src/origin/db/neon.js";
import { startWsTcpBridge, type WsTcpBridge } from "../../test/support/ws-tcp-bridge.js";
import { onCleanup, removeDir } from "../lib/processes.js";
import { freePort } from "../lib/inspector.js";

const run = promisify(execFile);

export interface PrivatePostgres {
  port: number;
  version: string;
  /** host:port of the bridge, for NEON_WS_PROXY. */
  bridge: string;
  /** A fresh database on the server; its URL as DATABASE_URL takes it. */
  createDatabase(name: string): Promise<string>;
  /** Runs SQL on a database of the server (through the bridge, the Neon driver, as the origin does). */
  query<T extends Record<string, unknown>>(url: string, sql: string): Promise<T[]>;
  /** A connection of its own, for a scenario that holds a lock. */
  pool(url: string): Pool;
  stop(mode: "immediate" | "fast"): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

/** The newest PostgreSQL binaries installed the Debian way. */
export function postgresBin(): string | undefined {
  const base = "/usr/lib/postgresql";
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base).filter((v) => existsSync(join(base, v, "bin/pg_ctl"))).sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(base, versions[0], "bin");
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = postgresBin();
  if (!bin) throw new Error("no PostgreSQL binaries under /usr/lib/postgresql/*/bin (apt-get install postgresql)");
  // As root the server must run as another user; anyone else runs it as themselves.
  const asRoot = userInfo().uid === 0;
  const as = async (command: string, args: string[]) => {
    const [file, argv] = asRoot ? ["runuser", ["-u", "postgres", "--", join(bin, command), ...args]] : [join(bin, command), args];
    return run(file, argv, { timeout: 60_000 });
  };
  const dir = mkdtempSync(join(tmpdir(), "waiting-room-faults-pg-"));
  const unregister = onCleanup(async () => {
    await as("pg_ctl", ["-D", join(dir, "data"), "-m", "immediate", "-w", "stop"]).catch(() => undefined);
    removeDir(dir);
  });
  if (asRoot) {
    const { stdout } = await run("id", ["-u", "postgres"]);
    const { stdout: gid } = await run("id", ["-g", "postgres"]);
    chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
    chmodSync(dir, 0o700);
  }
  const data = join(dir, "data");
  const port = await freePort();
  await as("initdb", ["-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"]);
  const start = async () => {
    await as("pg_ctl", ["-D", data, "-l", join(dir, "server.log"), "-w", "-t", "60", "-o", `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`, "start"]);
  };
  await start();

  const bridge: WsTcpBridge = await startWsTcpBridge();
  // Process-wide in the driver, as in the origin: this process talks to the server the origin's way.
  neonConfig.webSocketConstructor = ws;
  useNeonWsProxy(`127.0.0.1:${bridge.port}`);
  const pools = new Set<Pool>();
  const pool = (url: string) => {
    const p = new Pool({ connectionString: url, max: 2, connectionTimeoutMillis: 10_000 });
    // A server stopped under an idle connection: reported by the scenario's own queries, not here.
    p.on("error", () => undefined);
    pools.add(p);
    return p;
  };
  const url = (name: string) => `postgres://postgres@127.0.0.1:${port}/${name}`;
  const query = async <T extends Record<string, unknown>>(target: string, sql: string): Promise<T[]> => {
    const p = pool(target);
    try {
      const result = await p.query(sql);
      return result.rows as T[];
    } finally {
      pools.delete(p);
      await p.end().catch(() => undefined);
    }
  };
  const [row] = await query<{ version: string }>(url("postgres"), "select current_setting('server_version') as version");

  return {
    port,
    version: row?.version ?? "unknown",
    bridge: `127.0.0.1:${bridge.port}`,
    async createDatabase(name) {
      await query(url("postgres"), `create database ${name}`);
      return url(name);
    },
    query,
    pool,
    async stop(mode) {
      await as("pg_ctl", ["-D", data, "-m", mode, "-w", "-t", "60", "stop"]);
    },
    start,
    async destroy() {
      for (const p of pools) await p.end().catch(() => undefined);
      await bridge.close().catch(() => undefined);
      await as("pg_ctl", ["-D", data, "-m", "fast", "-w", "stop"]).catch(() => undefined);
      removeDir(dir);
      unregister();
    },
  };
}
