import type { HealthSample } from "./autopilot.js";

/** The last RING_SIZE latencies a shard heard about; enough for a p95 that moves with the origin. */
const RING_SIZE = 200;

/** The origin's recent latencies as one shard heard of them, for the p95 its snapshot shows on /ops. */
export class LatencyRing {
  private readonly values: number[] = [];
  private next = 0;
  /** The p95 of `values` as they are; undefined once a sample arrives. Every snapshot asks, few calls add. */
  private p95Cached: number | null | undefined;

  add(samples: readonly HealthSample[]): void {
    if (samples.length > 0) this.p95Cached = undefined;
    for (const s of samples) {
      if (this.values.length < RING_SIZE) this.values.push(s.latencyMs);
      else this.values[this.next] = s.latencyMs;
      this.next = (this.next + 1) % RING_SIZE;
    }
  }

  get size(): number {
    return this.values.length;
  }

  /** The 95th percentile (nearest rank), or null with no samples. */
  p95(): number | null {
    if (this.p95Cached !== undefined) return this.p95Cached;
    if (this.values.length === 0) return (this.p95Cached = null);
    const sorted = [...this.values].sort((a, b) => a - b);
    return (this.p95Cached = Math.round(sorted[Math.ceil(0.95 * sorted.length) - 1]!));
  }
}
