import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/*
 * Nothing test-only ships (DESIGN.md, invariant 12): the Worker `wrangler deploy` uploads, built from
 * wrangler.toml exactly as a deploy builds it, carries none of the test Worker's hooks, clock or counters
 * (test/workers/), and its QueueShard offers nothing but the object's RPC surface.
 */

const root = fileURLToPath(new URL("../..", import.meta.url));
const run = promisify(execFile);

/** What the Worker's callers (the app, the alarm) use: every public member of QueueShard. */
const RPC_SURFACE = [
  "alarm", "claim", "complete", "draw", "drawPrefixes", "history", "holdForChange", "join", "joinJson", "leave", "leavePrequeue", "ranks", "releaseChange", "reportHealth", "seen", "snapshot",
  // Web Push (src/edge/shard/push-notices.ts): the routes' and the queue consumer's calls.
  "pushAccepted", "pushGone", "pushReceived", "pushTarget", "subscribePush", "unsubscribePush",
];

let outdir: string;
let bundle: string;

beforeAll(async () => {
  outdir = mkdtempSync(join(tmpdir(), "production-worker-"));
  await run(join(root, "node_modules/.bin/wrangler"), ["deploy", "--dry-run", "-c", "wrangler.toml", "--outdir", outdir], {
    cwd: root,
    timeout: 120_000,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", WRANGLER_HIDE_BANNER: "true", CLOUDFLARE_CF_FETCH_ENABLED: "false", NO_COLOR: "1" },
  });
  bundle = readFileSync(join(outdir, "index.js"), "utf8");
}, 120_000);

afterAll(() => {
  if (outdir) rmSync(outdir, { recursive: true, force: true });
});

/** The members of the bundle's QueueShard class, as written in the JavaScript that ships. */
function bundledQueueShard(): { methods: string[]; fields: string[] } {
  const source = ts.createSourceFile("index.js", bundle, ts.ScriptTarget.ES2022, false, ts.ScriptKind.JS);
  const classes: ts.ClassLikeDeclaration[] = [];
  const visit = (node: ts.Node): void => {
    // esbuild writes `var QueueShard = class extends …`; a declaration would do as well.
    if (ts.isClassDeclaration(node) && node.name?.text === "QueueShard") classes.push(node);
    if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && node.name.text === "QueueShard" && node.initializer && ts.isClassExpression(node.initializer)) {
      classes.push(node.initializer);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  expect(classes).toHaveLength(1);
  const name = (member: ts.ClassElement) => (member.name && (ts.isIdentifier(member.name) || ts.isPrivateIdentifier(member.name)) ? member.name.text : "");
  return {
    methods: classes[0]!.members.filter(ts.isMethodDeclaration).map(name),
    fields: classes[0]!.members.filter(ts.isPropertyDeclaration).map(name),
  };
}

/** QueueShard's public members as TypeScript sees the class the production entry exports. */
function publicMembersOfProductionQueueShard(): string[] {
  const configFile = ts.readConfigFile(join(root, "tsconfig.json"), (path) => ts.sys.readFile(path));
  const { options } = ts.parseJsonConfigFileContent(configFile.config, ts.sys, root);
  const entry = join(root, "src/edge/index.ts");
  const program = ts.createProgram([entry, join(root, "worker-configuration.d.ts")], { ...options, types: [] });
  const checker = program.getTypeChecker();
  const moduleSymbol = checker.getSymbolAtLocation(program.getSourceFile(entry)!)!;
  const exported = checker.getExportsOfModule(moduleSymbol).find((s) => s.name === "QueueShard")!;
  const classSymbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
  const instance = checker.getDeclaredTypeOfSymbol(classSymbol);
  return checker
    .getPropertiesOfType(instance)
    .filter((member) => {
      const declaration = member.valueDeclaration ?? member.declarations?.[0];
      // Inherited from DurableObject and not overridden: the runtime's, not the project's.
      if (!declaration || declaration.getSourceFile().isDeclarationFile) return false;
      const name = ts.getNameOfDeclaration(declaration);
      if (name && ts.isPrivateIdentifier(name)) return false;
      return (ts.getCombinedModifierFlags(declaration) & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) === 0;
    })
    .map((member) => member.name)
    .sort();
}

describe("the production Worker (wrangler deploy --dry-run of wrangler.toml)", () => {
  it("has no fault hook, no test binding, no test subclass and no test-only reset of an isolate's caches", () => {
    // The resets are exported for the tests and must stay out of the bundle: nothing deployed calls them.
    for (const hook of ["__faults", "injectFault", "FAULT_HOOKS", "setClock", "setAway", "setCoordinated", "TEST_SHARDS_ALONE", "TestQueueShard", "TestCohortCoordinator", "CountingQueueShard", "forgetSnapshots", "forgetSamples", "forgetDraws", "forgetRanks"]) {
      expect(bundle.includes(hook), hook).toBe(false);
    }
  });

  it("has a QueueShard without call or commit counters or a replaceable clock", () => {
    const { methods, fields } = bundledQueueShard();
    for (const member of ["calls", "commits", "now"]) expect(fields, member).not.toContain(member);
    expect(/\.(calls|commits)\.\w+(\+\+|\s*\+=|--)/.exec(bundle)?.[0] ?? "no counting").toBe("no counting");
    // The clock is a method a subclass may override, reading the runtime's clock.
    expect(methods).toContain("now");
    for (const method of RPC_SURFACE) expect(methods).toContain(method);
  });

  it("has a QueueShard whose public members are exactly its RPC methods and alarm", () => {
    expect(publicMembersOfProductionQueueShard()).toEqual([...RPC_SURFACE].sort());
  });
});
