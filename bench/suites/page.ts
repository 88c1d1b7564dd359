/**
 * 6. The waiting page: bytes transferred and requests on first load, and on one status poll.
 *
 * The edge runs under Miniflare with public/ as its static assets (wrangler.toml's [assets], _headers
 * applied); Chromium (the system's, else the one npm installed: test/support/browser.ts; playwright-core,
 * headless, a fresh profile per run so nothing is cached) opens `/` and waits for the network to go quiet. Every response's bytes on the wire are summed from
 * the DevTools protocol (Network.loadingFinished encodedDataLength: headers plus the body as sent,
 * compressed when it was). Then the page joins the queue with a citizen's id_token minted by the
 * bench's identity provider (not counted; a browser gets its token through the provider's login, which
 * is not this figure) and asks for its status once,
 * as its own poll does (`fetch("/api/queue/status")` with the ticket cookie); that request is counted.
 * Baselines: the 50 KB budget for the first load; the files public/ holds for the page (its HTML,
 * stylesheet and each of its script modules, as scripts/fingerprint-page.ts builds them) for its requests;
 * the first load itself for a poll.
 */
import type { CDPSession } from "playwright-core";
import { buildPage } from "../../scripts/fingerprint-page.js";
import { CHROMIUM_ARGS, chooseBrowser, launchChromium } from "../../test/support/browser.js";
import { startEdge } from "../lib/miniflare.js";
import { figure, series } from "../lib/report.js";
import type { Suite } from "../lib/suite.js";
import { idTokens } from "../lib/identity.js";
import { NO_ADMISSIONS } from "./joins.js";

const BUDGET_BYTES = 50 * 1024;

interface Transfer {
  url: string;
  status: number;
  bytes: number;
}

/** Records every request the page makes and the bytes each response took on the wire. */
function recordNetwork(cdp: CDPSession): { transfers: () => Transfer[]; reset: () => void } {
  let started = new Map<string, { url: string; status: number }>();
  let done: Transfer[] = [];
  cdp.on("Network.requestWillBeSent", (e) => {
    started.set(e.requestId, { url: e.request.url, status: 0 });
  });
  cdp.on("Network.responseReceived", (e) => {
    const r = started.get(e.requestId);
    if (r) r.status = e.response.status;
  });
  cdp.on("Network.loadingFinished", (e) => {
    const r = started.get(e.requestId);
    if (r) done.push({ url: r.url, status: r.status, bytes: e.encodedDataLength });
  });
  cdp.on("Network.loadingFailed", (e) => {
    const r = started.get(e.requestId);
    if (r) done.push({ url: r.url, status: -1, bytes: 0 });
  });
  return {
    transfers: () => [...done],
    reset: () => {
      started = new Map();
      done = [];
    },
  };
}

/** Waits until the protocol has reported the end of a request to `path` (its events may trail the page). */
async function finished(net: { transfers: () => Transfer[] }, path: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!net.transfers().some((t) => new URL(t.url).pathname === path)) {
    if (Date.now() > deadline) throw new Error(`no network events for ${path} within 10 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const sum = (ts: Transfer[]) => ts.reduce((a, t) => a + t.bytes, 0);

export const page: Suite = {
  name: "page",
  title: "Waiting page: bytes and requests on first load and on a poll",
  async run(ctx) {
    // What the page is made of, as served: "/" for index.html, then the stylesheet and every module.
    const staticFiles = [...buildPage().keys()].map((path) => (path === "index.html" ? "/" : `/${path}`));
    const edge = await startEdge({ bundle: "edge", assets: true, vars: { SHARDS: "4", ...NO_ADMISSIONS } });
    const chosen = await chooseBrowser();
    const browser = await launchChromium({ timeout: 60_000 }, chosen);
    let raw: Array<{ run: number; firstLoad: Transfer[]; poll: Transfer[] }>;
    try {
      raw = await ctx.eachRun(async (run) => {
        const context = await browser.newContext();
        try {
          const tab = await context.newPage();
          const cdp = await context.newCDPSession(tab);
          await cdp.send("Network.enable");
          await cdp.send("Network.setCacheDisabled", { cacheDisabled: false });
          const net = recordNetwork(cdp);
          await tab.goto(`${edge.url}/`, { waitUntil: "networkidle", timeout: 30_000 });
          await tab.waitForTimeout(500);
          const first = net.transfers();
          // A file that failed to load (e.g. public/ rebuilt under the running edge) would shrink the figure: refuse it.
          const failed = first.filter((t) => t.status < 0);
          if (failed.length) throw new Error(`first load: ${failed.map((t) => new URL(t.url).pathname).join(", ")} failed to load`);
          // Nor may a file of the page be missing from the figure (a module the browser never asked for).
          const fetched = new Set(first.map((t) => new URL(t.url).pathname));
          const unfetched = staticFiles.filter((path) => !fetched.has(path));
          if (unfetched.length) throw new Error(`first load: ${unfetched.join(", ")} never requested`);

          // Join (not counted), then one poll as the page makes it.
          // One edge serves every run, so each run is another citizen.
          const [idToken] = await idTokens(run, 1);
          const joined = await tab.evaluate(
            // The body is read, as the page does: Chromium reports a response finished only once it is.
            async (token) => {
              const res = await fetch("/api/queue/join", { method: "POST", headers: { "content-type": "application/json", accept: "application/json" }, body: JSON.stringify({ idToken: token }) });
              await res.text();
              return res.status;
            },
            idToken!,
          );
          if (joined !== 200) throw new Error(`join from the page answered ${joined}`);
          await finished(net, "/api/queue/join");
          net.reset();
          const polled = await tab.evaluate(async () => {
            const res = await fetch("/api/queue/status", { cache: "no-store", headers: { accept: "application/json" } });
            await res.json();
            return res.status;
          });
          if (polled !== 200) throw new Error(`a poll with the ticket cookie answered ${polled}`);
          await finished(net, "/api/queue/status");
          await tab.waitForTimeout(300);
          const poll = net.transfers();

          ctx.log(`run ${run + 1}: first load ${first.length} requests, ${sum(first)} B; poll ${poll.length} request(s), ${sum(poll)} B`);
          return { run, firstLoad: first, poll };
        } finally {
          await context.close();
        }
      });
    } finally {
      await browser.close();
      await edge.dispose();
    }
    const firstBytes = raw.map((r) => sum(r.firstLoad));
    const firstRequests = raw.map((r) => r.firstLoad.length);
    const pollBytes = raw.map((r) => sum(r.poll));
    const pollRequests = raw.map((r) => r.poll.length);
    return {
      method:
        `${chosen.source === "bundled" ? "@sparticuz/chromium's" : "The system's"} Chromium (headless, playwright-core, a fresh profile per run) loads / from the edge under Miniflare serving public/ with _headers; ` +
        "bytes = the sum of Network.loadingFinished encodedDataLength (response headers plus body as transferred) until the network is idle. " +
        "Poll: after a join from the page with a minted id_token (not counted), one fetch('/api/queue/status') with the ticket cookie, as page/flow.js polls.",
      settings: { budgetBytes: BUDGET_BYTES, chromium: chosen.executablePath, chromiumArgs: CHROMIUM_ARGS, staticFiles },
      figures: [
        figure("page.first-load-bytes", series("6. First load: bytes transferred", "B", firstBytes), series("50 KB budget", "B", firstBytes.map(() => BUDGET_BYTES)), "bytes / budget", {
          text: "≤ 1",
          met: (f) => f.ratio.median <= 1,
        }),
        figure("page.first-load-requests", series("6. First load: requests", "req", firstRequests), series("static files (HTML, CSS, JS modules)", "req", firstRequests.map(() => staticFiles.length)), "requests / static files"),
        figure("page.poll-bytes", series("6. One poll: bytes transferred", "B", pollBytes), series("first load, same run", "B", firstBytes), "poll / first load"),
        figure("page.poll-requests", series("6. One poll: requests", "req", pollRequests), series("one request per poll", "req", pollRequests.map(() => 1)), "requests / 1"),
      ],
      raw,
      notes: ["Bytes received only (what the citizen downloads); request headers sent are not counted. Over HTTP/1.1 on 127.0.0.1, with the compression workerd applies (gzip for text)."],
    };
  },
};
