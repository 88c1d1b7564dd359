import type { OriginOutcome } from "./autopilot.js";

/**
 * The gate's circuit breaker: it stops forwarding to an origin this isolate has just seen failing, and
 * lets it back in gradually. Per isolate, its state read and written synchronously, so no request ever
 * waits on another's promise (workerd cancels such a wait).
 */

/**
 * The breaker judges the requests of the last this long. Long, because an isolate's share of a crowd is
 * thin: at the 2.36 M opening's pace spread over a thousand isolates, one sees a booking request every few
 * seconds, so a short window would never hold enough failures to act on.
 */
export const BREAKER_WINDOW_MS = 30_000;
/** …and opens only on this many failures at least, so one stray 5xx among few requests does not. */
export const BREAKER_MIN_FAILURES = 3;
/**
 * While open, one request goes through as a probe this long after it opened, and after each failed probe
 * twice as long as before, up to BREAKER_MAX_PROBE_MS: a crash of a few seconds is noticed a few seconds
 * after the origin's return (the probes come 1, 3, 7, 15 s after the opening), while an origin down for
 * minutes costs each isolate a probe every half minute (every failed probe is a citizen's failed request,
 * and a sick origin must not be hammered). A breaker that opens again within BREAKER_WINDOW_MS of a
 * recovery starts at twice the last episode's wait instead: that origin came back only in part.
 */
export const BREAKER_FIRST_PROBE_MS = 1_000;
export const BREAKER_MAX_PROBE_MS = 30_000;
/**
 * After a probe succeeds the breaker forwards this share of requests, and doubles it at most every
 * BREAKER_RAMP_STEP_MS, each time only once a request forwarded since the last doubling has succeeded
 * (the probe counts for the first), until it forwards all; a failure during the ramp opens it again at
 * once. A crowd held back, let through at once, could knock over an origin that is only just serving
 * again. An isolate that carries a few requests a second is through the ramp (5%, 10%, 20%, 40%, 80%,
 * all) in five or six seconds, so a crash of a few seconds costs seconds of refusals, not minutes. An
 * isolate that carries a request every few seconds (a thin share of a crowd spread over a thousand
 * isolates) climbs only as fast as successes arrive, which at a twentieth of its requests takes a minute
 * or more: an origin that serves a probe but fails under load (degraded, not crashed) is not handed the
 * crowd back before its requests show it copes. A twentieth rather than a tenth, and the doubling on
 * evidence rather than time, are what keep the replay's degraded origin under its error target
 * (bench/README.md, "Origin scenarios", says what each gave).
 */
export const BREAKER_FIRST_SHARE = 0.05;
export const BREAKER_RAMP_STEP_MS = 1_000;
const MAX_REMEMBERED = 1_024;

export type BreakerVerdict = "forward" | "probe" | "refuse";

/**
 * A circuit breaker over the recent outcomes of one isolate's requests to the origin. Closed, every
 * request is forwarded; when the failed share of the last BREAKER_WINDOW_MS is above the origin's error
 * target (with at least BREAKER_MIN_FAILURES failures), it opens and refuses, letting a probe through now
 * and then. Only a probe's outcome moves an open breaker: a probe that succeeds starts the ramp (the origin
 * served a request sent after it opened), one that fails waits twice as long for the next. Ramping, it
 * forwards a share of requests that doubles at most every BREAKER_RAMP_STEP_MS while they succeed, and any
 * failure among them opens it again at once, the wait for the next probe doubled as after a failed probe.
 * Answers to requests sent before the present state began (a timeout that arrives after the breaker
 * opened, or after the ramp began) say nothing new and are ignored.
 */
export class OriginBreaker {
  private recent: { at: number; failed: boolean }[] = [];
  private open = false;
  /** When the breaker last opened, or the ramp last began: answers to requests sent earlier are old news. */
  private since = Number.NEGATIVE_INFINITY;
  private probedAt = 0;
  private probeEvery = BREAKER_FIRST_PROBE_MS;
  /** The share of requests a ramping breaker forwards; null when closed for good (or open). */
  private rampShare: number | null = null;
  /** When the share last doubled (or the ramp began), and whether a request has succeeded since. */
  private steppedAt = 0;
  private succeededSinceStep = false;
  /** When the last ramp ended with every request forwarded, and the probe wait in force then. */
  private closedAt = Number.NEGATIVE_INFINITY;
  private lastProbeEvery = BREAKER_FIRST_PROBE_MS;

  /** `random` decides which requests a ramping breaker forwards; tests give their own. */
  constructor(private readonly random: () => number = Math.random) {}

  /** What to do with a request at `now`. A "probe" verdict is counted as the probe. */
  verdict(now: number): BreakerVerdict {
    if (!this.open) {
      if (this.rampShare === null) return "forward";
      // A clock that stepped back counts as a step's time passed, as for probes below.
      if (this.succeededSinceStep && (now - this.steppedAt >= BREAKER_RAMP_STEP_MS || now < this.steppedAt)) {
        this.rampShare *= 2;
        this.steppedAt = now;
        this.succeededSinceStep = false;
        if (this.rampShare >= 1) {
          this.closeForGood(now);
          return "forward";
        }
      }
      return this.random() < this.rampShare ? "forward" : "refuse";
    }
    // A clock that stepped back counts as time passed: better one probe too many than a breaker stuck open.
    if (now - this.probedAt >= this.probeEvery || now < this.probedAt) {
      this.probedAt = now;
      return "probe";
    }
    return "refuse";
  }

  /**
   * Records a forwarded request's outcome (`probe`: it went through as the open breaker's probe; `sentAt`:
   * when it was sent, `now` if not given) and opens the breaker if the origin is failing. `maxErrorShare`
   * is ORIGIN_MAX_ERROR_SHARE: the breaker and the autopilot share one idea of "failing".
   */
  record(now: number, outcome: OriginOutcome, maxErrorShare: number, probe = false, sentAt = now): void {
    if (sentAt < this.since) return;
    if (this.open) {
      if (!probe) return;
      if (outcome === "ok") {
        this.open = false;
        this.since = now;
        this.recent = [];
        this.rampShare = BREAKER_FIRST_SHARE;
        this.steppedAt = now;
        this.succeededSinceStep = true;
      } else this.probeEvery = Math.min(BREAKER_MAX_PROBE_MS, this.probeEvery * 2);
      return;
    }
    if (this.rampShare !== null) {
      if (outcome === "ok") {
        this.succeededSinceStep = true;
        return;
      }
      // The origin served a probe but fails the requests behind it: not back after all.
      this.openAt(now, Math.min(BREAKER_MAX_PROBE_MS, this.probeEvery * 2));
      return;
    }
    this.recent.push({ at: now, failed: outcome !== "ok" });
    const from = now - BREAKER_WINDOW_MS;
    let drop = 0;
    while (drop < this.recent.length && (this.recent[drop]!.at < from || this.recent[drop]!.at > now)) drop++;
    if (drop > 0 || this.recent.length > MAX_REMEMBERED) this.recent = this.recent.slice(Math.max(drop, this.recent.length - MAX_REMEMBERED));
    const failures = this.recent.reduce((n, r) => n + (r.failed ? 1 : 0), 0);
    if (failures >= BREAKER_MIN_FAILURES && failures / this.recent.length > maxErrorShare) {
      // Failing again within a window of the last recovery: the origin came back only in part (degraded,
      // not crashed), so the probes start where the last episode's left off, twice as long.
      const relapse = now - this.closedAt < BREAKER_WINDOW_MS;
      this.openAt(now, relapse ? Math.min(BREAKER_MAX_PROBE_MS, this.lastProbeEvery * 2) : BREAKER_FIRST_PROBE_MS);
    }
  }

  /**
   * How long a refused citizen should wait before trying again, in whole seconds: until the next probe is
   * due while open (a citizen coming back sooner would only be refused again), a ramp step while ramping.
   */
  retryAfterSeconds(now: number): number {
    if (!this.open) return Math.ceil(BREAKER_RAMP_STEP_MS / 1000);
    const due = this.probedAt + this.probeEvery - now;
    return Math.min(BREAKER_MAX_PROBE_MS / 1000, Math.max(1, Math.ceil(due / 1000)));
  }

  private openAt(now: number, probeEvery: number): void {
    this.open = true;
    this.rampShare = null;
    this.since = now;
    this.probedAt = now;
    this.probeEvery = probeEvery;
    this.recent = [];
  }

  /** The ramp is over: every request is forwarded; an opening long after probes soon again. */
  private closeForGood(now: number): void {
    this.rampShare = null;
    this.closedAt = now;
    this.lastProbeEvery = this.probeEvery;
    this.probeEvery = BREAKER_FIRST_PROBE_MS;
  }

  /** Whether the breaker is refusing (all but its probes), for tests and the replay. */
  isOpen(): boolean {
    return this.open;
  }

  /** Whether it is letting only a share of requests through after a successful probe. */
  isRecovering(): boolean {
    return !this.open && this.rampShare !== null;
  }

  reset(): void {
    this.recent = [];
    this.open = false;
    this.since = Number.NEGATIVE_INFINITY;
    this.rampShare = null;
    this.probedAt = 0;
    this.probeEvery = BREAKER_FIRST_PROBE_MS;
    this.closedAt = Number.NEGATIVE_INFINITY;
    this.lastProbeEvery = BREAKER_FIRST_PROBE_MS;
  }
}

/**
 * This isolate's breaker. One for the whole origin, not one per shard: every shard's citizens book at the
 * same origin, so a failure seen through one shard's citizen is news for all of them.
 */
export const originBreaker = new OriginBreaker();
