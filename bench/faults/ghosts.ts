/**
 * Issue 24's ghosts: citizens who join and go silent (closed tabs, a second device, a script) ahead of
 * citizens who are there. The line must pass over the silent ones without spending capacity or rate on
 * them, admit everyone present, and let a silent one who comes back within the return window in again.
 */
import { queueStatus } from "../../src/contract/queue.js";
import { Crowd } from "./crowd.js";
import type { ScenarioContext, ScenarioSpec } from "./harness.js";
import { call, Tally } from "./http.js";
import { sleep } from "./stack.js";

const ADMIT_PER_MINUTE = 120;

export function ghosts(ctx: ScenarioContext): ScenarioSpec {
  const silent = ctx.quick ? 100 : 300;
  const present = ctx.quick ? 15 : 30;
  let ghostCrowd: Crowd | undefined;
  const ghostTally = new Tally();
  return {
    name: "ghosts",
    title: "Silent tickets ahead of present citizens",
    item: 24.1,
    fault: `${silent} citizens join and go silent, then ${present} join behind them and poll as the page does (ADMIT_PER_MINUTE ${ADMIT_PER_MINUTE}, MAX_ACTIVE 10)`,
    database: "pglite",
    // The product's claim window, not the suite's long one: silent admissions must lapse as they would.
    env: { ADMIT_PER_MINUTE: String(ADMIT_PER_MINUTE), MAX_ACTIVE: "10", CLAIM_WINDOW_SECONDS: "30" },
    crowd: { citizens: present, arrivalMs: 0 },
    async beforeCrowd(stack) {
      ghostCrowd = new Crowd({ edge: stack.edge, idp: stack.idp, mintSecret: stack.mintSecret }, ghostTally, { citizens: silent, arrivalMs: 0 });
      await ghostCrowd.mint();
      // Each joins once and is never heard from again, in order, a few at a time.
      for (let i = 0; i < silent; i += 16) await Promise.all(ghostCrowd.citizens.slice(i, i + 16).map((c) => ghostCrowd!.join(c)));
    },
    async run(h) {
      const ghostsJoined = ghostCrowd!.citizens.filter((c) => c.ticket !== undefined).length;
      h.figure("silentJoined", ghostsJoined);
      if (ghostsJoined < silent) h.fail(`only ${ghostsJoined} of ${silent} silent citizens could join`);
      h.event(`${ghostsJoined} silent citizens in the line; ${present} present citizens joining behind them`);
      // Long enough for the silent ones' presence and claim windows (30 s each) and everyone present at the rate, twice over.
      const bound = (30 + 30 + (present * 60) / ADMIT_PER_MINUTE) * 2_000 + 30_000;
      const allIn = await h.until(() => h.crowd.counts().admitted >= present, bound);
      const people = h.crowd.citizens.filter((c) => c.joinedAt !== undefined).sort((a, b) => a.joinedAt! - b.joinedAt!);
      const admitted = people.filter((c) => c.admittedAt !== undefined);
      h.figure("presentAdmitted", `${admitted.length} of ${present}`);
      if (!allIn) h.fail(`${present - admitted.length} of ${present} present citizens were not admitted within ${(bound / 1000).toFixed(0)} s`);
      // Each one's wait against the time their own number among the present needs at the configured rate.
      let longest = { waitMs: -1, ownNumberMs: 0, number: 0 };
      people.forEach((c, k) => {
        if (c.admittedAt === undefined) return;
        const waitMs = c.admittedAt - c.joinedAt!;
        if (waitMs > longest.waitMs) longest = { waitMs, ownNumberMs: Math.round(((k + 1) * 60_000) / ADMIT_PER_MINUTE), number: k + 1 };
      });
      if (longest.waitMs >= 0) {
        h.figure("longestWaitMs", longest.waitMs);
        h.figure("longestWaitersNumber", longest.number);
        h.figure("ownNumberAtRateMs", longest.ownNumberMs);
      }
      h.event(`${admitted.length} of ${present} present citizens admitted; longest wait ${(longest.waitMs / 1000).toFixed(1)} s against ${(longest.ownNumberMs / 1000).toFixed(1)} s for number ${longest.number} at the rate`);

      // The last silent citizen comes back (their page polls again), well within the return window.
      const back = ghostCrowd!.citizens.findLast((c) => c.ticket !== undefined);
      if (!back) return;
      const from = Date.now();
      let first: string | undefined;
      let admittedAfter: number | undefined;
      while (Date.now() - from < 60_000) {
        const answer = await call(ghostTally, `${h.stack.edge}/api/queue/status`, { headers: { authorization: `Bearer ${back.ticket}` } });
        const status = answer.ok && answer.status === 200 ? queueStatus.safeParse(answer.json) : undefined;
        if (status?.success) {
          first ??= status.data.cameBack ? "waiting, came back" : status.data.state;
          if (status.data.state === "admitted") {
            admittedAfter = Date.now() - from;
            break;
          }
          if (status.data.state === "expired") break;
        }
        await sleep(Math.min(Math.max(status?.success ? status.data.nextPollMs : 2_000, 1_000), 3_000));
      }
      h.figure("returnFirstAnswer", first ?? "no answer");
      if (admittedAfter === undefined) h.fail(`a silent citizen who came back was not admitted within 60 s (first answer: ${first ?? "none"})`);
      else h.figure("returnAdmittedMs", admittedAfter);
      h.event(`a silent citizen came back: ${first ?? "no answer"}, admitted ${admittedAfter === undefined ? "not within 60 s" : `after ${(admittedAfter / 1000).toFixed(1)} s`}`);
      h.figure("silentCitizens5xx", ghostTally.project5xx);
      if (ghostTally.project5xx > 0) h.fail(`the silent citizens' requests got ${ghostTally.project5xx} 5xx answers`);
    },
  };
}
