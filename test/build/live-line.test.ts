import { describe, expect, it } from "vitest";
import { countAhead, passedShare, readTicket, rises, type Answer, type Footprint } from "../../bench/lib/live-line.js";

/*
 * The live replay's one-line figures (bench/lib/live-line.ts) from crowds whose truth is known: a count
 * that is right must score 0, and one that is wrong the way a line of independent shards was (one shard's
 * place times the shards) must not.
 */

const T0 = 1_800_000_000_000;
const SHARDS = 4;

interface Arrival {
  shard: number;
  /** ms after T0 the shard stamped the join. */
  at: number;
  /** ms after T0 the citizen was told it was admitted. */
  admitted?: number;
  /** ms after T0 a citizen never admitted stopped asking. */
  stops?: number;
}

/** Footprints of `arrivals`, each asking every 500 ms until admitted or until it stops, shown `shown(i, t)` ahead. */
function crowd(
  arrivals: Arrival[],
  shown: (i: number, t: number, all: Footprint[]) => number,
  paused: (t: number) => boolean = () => false,
  placing: (i: number, t: number) => boolean = () => false,
): Footprint[] {
  const seqs = new Map<number, number>();
  const all: Footprint[] = arrivals.map((a) => {
    const seq = (seqs.get(a.shard) ?? 0) + 1;
    seqs.set(a.shard, seq);
    return { shard: a.shard, seq, joinSentAt: T0 + a.at - 20, joinAnsweredAt: T0 + a.at + 20, ticketSecond: Math.floor((T0 + a.at + 20) / 1000), answers: [], admittedAt: a.admitted === undefined ? undefined : T0 + a.admitted };
  });
  all.forEach((f, i) => {
    const until = f.admittedAt ?? T0 + arrivals[i]!.stops!;
    for (let t = f.joinSentAt; t < until - 500; t += 500) {
      const ahead = shown(i, t + 20, all);
      const answer: Answer = { sentAt: t, answeredAt: t + 20, ahead, eta: paused(t) ? null : { low: ahead, high: 2 * ahead }, paused: paused(t), cameBack: false, placing: placing(i, t - T0) };
      f.answers.push(answer);
    }
  });
  return all;
}

/** The people ahead of citizen `i` at `t` in the line's order (second, shard, place) and not yet admitted. */
function truth(i: number, t: number, all: Footprint[]): number {
  const key = (f: Footprint) => [Math.floor(f.joinAnsweredAt / 1000), f.shard, f.seq] as const;
  const [s, sh, q] = key(all[i]!);
  return all.filter((y) => {
    const [ys, ysh, yq] = key(y);
    const before = ys !== s ? ys < s : ysh !== sh ? ysh < sh : yq < q;
    return before && y.joinAnsweredAt <= t && (y.admittedAt ?? Infinity) > t;
  }).length;
}

/** 40 arrivals, 3 of 4 into shard 0, admitted in arrival order one a second after the last arrives. */
const unbalanced: Arrival[] = Array.from({ length: 40 }, (_, i) => ({ shard: i % 4 === 3 ? 1 + (i % 3) : 0, at: i * 1_000 + 100, admitted: 45_000 + i * 1_000 }));

describe("the count ahead against the truth the crowd knows", () => {
  it("scores an exact count 0, with nothing rising", () => {
    const all = crowd(unbalanced, truth);
    const report = countAhead(all);
    expect(report.answers).toBeGreaterThan(1_000);
    expect(report.error).toMatchObject({ meanSigned: 0, meanAbsolute: 0, worstAbsolute: 0 });
    expect(report.beyondKnowable).toEqual({ share: 0, mean: 0, worst: 0 });
    const r = rises(all, []);
    expect([r.countAhead.rises, r.estimate.rises]).toEqual([0, 0]);
  });

  it("finds a count of one shard's place times the shards wrong, and its rises", () => {
    // With independent shards: places ahead in the citizen's own shard, times the shards.
    const perShard = (i: number, t: number, all: Footprint[]) =>
      SHARDS * all.filter((y) => y.shard === all[i]!.shard && y.seq < all[i]!.seq && (y.admittedAt ?? Infinity) > t).length;
    const report = countAhead(crowd(unbalanced, perShard));
    expect(report.error.worstAbsolute).toBeGreaterThan(20);
    expect(report.beyondKnowable.share).toBeGreaterThan(0.5);
    // A citizen of a short shard is shown more ahead each time its own shard takes a join before the cohort gets to it.
    const stepping = (i: number, t: number, all: Footprint[]) => truth(i, t, all) + (Math.floor((t - T0) / 4_000) % 2) * 3;
    const r = rises(crowd(unbalanced, stepping), []);
    expect(r.countAhead.rises).toBeGreaterThan(0);
    expect(r.countAhead.biggest).toBe(3);
    expect(r.countAhead.byLine["not sampled"]).toBe(r.countAhead.rises);
  });

  it("orders joins of one second by shard, whatever the moment within it", () => {
    // Shard 3 takes a join at .100, shard 0 at .900 of the same second: the line ranks shard 0's first.
    const sameSecond: Arrival[] = [{ shard: 3, at: 100, admitted: 10_000 }, { shard: 0, at: 900, admitted: 9_000 }];
    const all = crowd(sameSecond, truth);
    expect(all[0]!.answers.find((a) => a.answeredAt > T0 + 2_000)!.ahead).toBe(1);
    expect(countAhead(all).error.worstAbsolute).toBe(0);
    // Told by arrival instead, the first would be told nobody is ahead of it: an error of one.
    expect(countAhead(crowd(sameSecond, (i, t, f) => (i === 0 ? 0 : truth(i, t, f)))).error.worstAbsolute).toBe(1);
  });

  it("counts one who stopped asking until a later place of their shard is admitted", () => {
    const leaves: Arrival[] = [{ shard: 0, at: 100, stops: 5_000 }, { shard: 0, at: 1_100, admitted: 20_000 }, { shard: 1, at: 2_100, admitted: 21_000 }];
    // The last citizen is shown the one who left until the place after theirs in shard 0 is admitted.
    const shown = (i: number, t: number, all: Footprint[]) => (i === 2 ? (t < T0 + 20_000 ? 2 : 0) : truth(i, t, all));
    expect(countAhead(crowd(leaves, shown)).error.worstAbsolute).toBe(0);
    // Dropping them at once is a count the crowd can tell is short.
    const dropped = (i: number, t: number, all: Footprint[]) => (i === 2 ? (t < T0 + 20_000 ? 1 : 0) : truth(i, t, all));
    expect(countAhead(crowd(leaves, dropped)).error.worstAbsolute).toBe(1);
  });
});

describe("answers that show the place as being found", () => {
  it("leaves them out of the count's errors and of the rises, comparing the shown answers around them", () => {
    // For the first 2 s after each join the place is not ranked: the answer's count is the ranked alone (0 here).
    const finding = (i: number, t: number) => t < unbalanced[i]!.at + 2_000;
    const short = (i: number, t: number, all: Footprint[]) => (finding(i, t - T0) ? 0 : truth(i, t, all));
    const all = crowd(unbalanced, short, undefined, finding);
    const report = countAhead(all);
    expect(report.placing).toBeGreaterThan(0);
    expect(report.error.worstAbsolute).toBe(0);
    expect([rises(all, []).countAhead.rises, rises(all, []).estimate.rises]).toEqual([0, 0]);
    // Counted as shown, the same answers are wrong, and the count rises when the place is found.
    const asShown = crowd(unbalanced, short);
    expect(countAhead(asShown).error.worstAbsolute).toBeGreaterThan(0);
    expect(rises(asShown, []).countAhead.rises).toBeGreaterThan(0);
    // A rise across a placing answer is still a rise: shown 5, then finding, then shown 8.
    const across = crowd([{ shard: 0, at: 100, admitted: 3_000 }], (_i, t) => (t < T0 + 1_000 ? 5 : t < T0 + 2_000 ? 0 : 8), undefined, (_i, t) => t >= 1_000 && t < 2_000);
    expect(rises(across, []).countAhead).toMatchObject({ rises: 1, biggest: 3 });
  });
});

describe("rises and what the line was doing", () => {
  it("names a rise while the line was paused, or slowed", () => {
    const arrivals: Arrival[] = [{ shard: 0, at: 100, admitted: 30_000 }, { shard: 1, at: 200, admitted: 31_000 }];
    const shown = (i: number, t: number, all: Footprint[]) => truth(i, t, all) + (t > T0 + 10_000 ? 1 : 0);
    // The answers themselves say paused (no estimate) around the step, with no operators' view sampled.
    const paused = rises(crowd(arrivals, shown, (t) => t > T0 + 9_000 && t < T0 + 11_000), []);
    expect(paused.countAhead.rises).toBe(2);
    expect(paused.countAhead.byLine.paused).toBe(2);
    expect(paused.countAhead.whileShardsAlone).toBe(0);
    // The operators' view said slowed between the two answers, with a shard admitting alone.
    const slowed = rises(crowd(arrivals, shown), [{ at: T0 + 10_000, state: "slowed", shardsAlone: 1 }]);
    expect(slowed.countAhead.byLine).toMatchObject({ slowed: 2, admitting: 0 });
    expect(slowed.countAhead.whileShardsAlone).toBe(2);
  });
});

describe("order across the crowd", () => {
  it("counts those admitted more than the gap after someone who joined more than the gap after them", () => {
    const inOrder = [0, 1, 2, 3].map((k) => ({ joinedAt: k * 10_000, admittedAt: 100_000 + k * 10_000 }));
    expect(passedShare(inOrder, 5_000)).toBe(0);
    // The first is admitted last, 30 s after the one who joined 30 s after them.
    const passed = inOrder.map((p, k) => (k === 0 ? { ...p, admittedAt: 200_000 } : p));
    expect(passedShare(passed, 5_000)).toBe(0.25);
  });

  it("reads a ticket's shard, place and second", () => {
    const payload = Buffer.from(JSON.stringify({ cohort: "55-59", shard: 2, seq: 17, iat: 1_800_000_000 })).toString("base64url");
    expect(readTicket(`h.${payload}.s`)).toEqual({ shard: 2, seq: 17, iat: 1_800_000_000 });
  });
});
