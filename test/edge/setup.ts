/**
 * Keeps every SELF.fetch and Durable Object call inside workerd.
 *
 * @cloudflare/vitest-pool-workers reaches the Worker's entry (wrangler.test.toml's `main`) through Vite's
 * module runner on every SELF.fetch and every call to an object: `moduleRunner.import(main)`. The runner
 * asks the Node process about the module each time, even once it is evaluated, so each request and each
 * object call waits for a round trip to Node; a thousand concurrent polls then queue behind the Node
 * process instead of meeting the isolate's caches. This gives an evaluated entry back from the isolate:
 * the same module instance the runner evaluated, so module-level caches, the QueueShard class and the
 * integration's own check that the class did not change are all as before. When the runner invalidates
 * the module (a file changed under `vitest` watch) the node stops being evaluated and the call goes to
 * the runner again.
 */
interface ModuleNode {
  evaluated: boolean;
  exports?: unknown;
}

interface ModuleRunner {
  import(url: string): Promise<unknown>;
  evaluatedModules: { idToModuleMap: Map<string, ModuleNode> };
}

const runner = (globalThis as { __vitest_mocker__?: { moduleRunner?: ModuleRunner } }).__vitest_mocker__?.moduleRunner;
if (!runner) throw new Error("test/edge/setup.ts: no Vite module runner in this isolate; the Workers vitest integration changed");

const runnerImport = runner.import.bind(runner);
const evaluated = new Map<string, { node: ModuleNode; exports: unknown }>();

runner.import = async (url: string): Promise<unknown> => {
  const known = evaluated.get(url);
  if (known && known.node.evaluated && known.node.exports === known.exports) return known.exports;
  const exports = await runnerImport(url);
  // The runner keys its nodes by the resolved id, not by the path it was given: find the one it evaluated.
  const node = [...runner.evaluatedModules.idToModuleMap.values()].find((candidate) => candidate.exports === exports);
  if (node?.evaluated) evaluated.set(url, { node, exports });
  else evaluated.delete(url);
  return exports;
};
