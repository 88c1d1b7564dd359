import { createEdgeApp } from "./app.js";

export { CohortCoordinator } from "./cohort/coordinator.js";
export { OperatorLogins } from "./operators/operator-logins.js";
export { QueueShard } from "./shard/queue-shard.js";

export default createEdgeApp() satisfies ExportedHandler<Env>;
