import { CohortCoordinator } from "../../src/edge/cohort/coordinator.js";

/**
 * The CohortCoordinator the tests run: the production object with a clock the tests set. Bound only by
 * test/workers/wrangler.test.toml.
 */
export class TestCohortCoordinator extends CohortCoordinator {
  private clock: (() => number) | null = null;
  private away = false;

  /** While away, every report fails as if the object could not be reached. */
  setAway(away: boolean): void {
    this.away = away;
  }

  override report(...args: Parameters<CohortCoordinator["report"]>): ReturnType<CohortCoordinator["report"]> {
    if (this.away) throw new Error("the coordinator is away (a test said so)");
    return super.report(...args);
  }

  /** Sets the object's clock; null gives it the runtime's back. */
  setClock(clock: (() => number) | null): void {
    this.clock = clock;
  }

  protected override now(): number {
    return this.clock ? this.clock() : super.now();
  }

  /** Resets the object as an eviction does: calls in flight fail, the next call starts again from SQLite. */
  evict(): void {
    this.ctx.abort("evicted by a test");
  }
}
