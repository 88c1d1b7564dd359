import { createEdgeApp, edgeFetch } from "./app.js";
import { consumeNotices } from "./push/consumer.js";

export { CohortCoordinator } from "./cohort/coordinator.js";
export { OperatorLogins } from "./operators/operator-logins.js";
export { QueueShard } from "./shard/queue-shard.js";

const app = createEdgeApp();

/** The edge Worker: its HTTP surface, and the consumer of its push queue (src/edge/push/consumer.ts). */
export default { fetch: edgeFetch(app), queue: consumeNotices } satisfies ExportedHandler<Env>;
