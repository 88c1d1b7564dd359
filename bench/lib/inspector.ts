/**
 * Reads a workerd isolate's V8 heap through its inspector (the Chrome DevTools Protocol that
 * `wrangler dev` also exposes): force a full GC, then ask for the heap in use. This is the isolate that
 * serves the Worker, not the Node process around it.
 */
import WebSocket from "ws";
import { freePort } from "../../test/support/free-port.js";

export { freePort };

/** A free TCP port on 127.0.0.1, for workerd's inspector. */
interface Target {
  id: string;
  title: string;
  webSocketDebuggerUrl: string;
}

export interface IsolateInspector {
  /** Collects garbage and returns V8's used heap size in bytes. */
  heapUsedAfterGc(): Promise<number>;
  /** Sends one DevTools Protocol command and returns its result (e.g. `Profiler.stop`'s profile). */
  send(method: string, params?: Record<string, unknown>): Promise<unknown>;
  close(): void;
}

/** Connects to the inspector of the Worker whose title contains `worker` (e.g. "edge"). */
export async function inspectIsolate(port: number, worker: string): Promise<IsolateInspector> {
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`, { signal: AbortSignal.timeout(10_000) })).json()) as Target[];
  const target = targets.find((t) => t.title.includes(worker)) ?? targets.find((t) => t.id.includes(worker));
  if (!target) throw new Error(`no inspector target for ${worker}: ${targets.map((t) => t.title).join(", ")}`);
  const socket = new WebSocket(target.webSocketDebuggerUrl.replace("localhost", "127.0.0.1"));
  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve());
    socket.once("error", reject);
  });
  let nextId = 1;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  socket.on("message", (data) => {
    const message = JSON.parse(String(data)) as { id?: number; result?: unknown; error?: { message: string } };
    if (message.id === undefined) return; // events, e.g. HeapProfiler.addHeapSnapshotChunk
    const waiter = pending.get(message.id);
    pending.delete(message.id);
    if (message.error) waiter?.reject(new Error(message.error.message));
    else waiter?.resolve(message.result);
  });
  const send = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<unknown>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      socket.send(JSON.stringify({ id, method, params }));
      setTimeout(() => {
        if (pending.delete(id)) reject(new Error(`inspector: ${method} timed out`));
      }, 30_000).unref();
    });
  return {
    async heapUsedAfterGc() {
      // workerd does not answer HeapProfiler.collectGarbage; a heap snapshot starts with a full GC, so
      // take one and ignore its chunks. Twice, so what the first GC only made unreachable is gone too.
      await send("HeapProfiler.takeHeapSnapshot", { reportProgress: false });
      await send("HeapProfiler.takeHeapSnapshot", { reportProgress: false });
      const usage = (await send("Runtime.getHeapUsage")) as { usedSize: number; totalSize: number };
      return usage.usedSize;
    },
    send,
    close() {
      socket.terminate();
    },
  };
}
