import { createEdgeApp } from "./app.js";

export { OperatorLogins } from "./operator-logins.js";
export { QueueShard } from "./queue-shard.js";

export default createEdgeApp() satisfies ExportedHandler<Env>;
