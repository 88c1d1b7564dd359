/**
 * The edge as the tests and the fault suite run it: the very app of src/edge (createEdgeApp, edgeFetch) plus the
 * fault suite's hook under /__faults/ (fault-routes.ts), and the production QueueShard extended with a
 * settable clock, call and commit counters and the hook's fault injection (test-queue-shard.ts), bound
 * under the production class name so the Durable Object bindings and migrations are wrangler.toml's.
 *
 * Bound only by test/workers/wrangler.test.toml (vitest.config.ts's edge project, and scripts/edge.ts
 * when EDGE_WRANGLER_CONFIG names it); never deployed.
 */
import { createEdgeApp, edgeFetch } from "../../src/edge/app.js";
import { consumeNotices } from "../../src/edge/push/consumer.js";
import { faultRoutes } from "./fault-routes.js";

export { TestCohortCoordinator as CohortCoordinator } from "./test-cohort-coordinator.js";
export { OperatorLogins } from "../../src/edge/operators/operator-logins.js";
export { TestQueueShard as QueueShard } from "./test-queue-shard.js";

const app = createEdgeApp();
app.route("/__faults", faultRoutes);

export default { fetch: edgeFetch(app), queue: consumeNotices } satisfies ExportedHandler<Env>;
