import { DurableObject } from "cloudflare:workers";
export class QueueShard extends DurableObject<Env> { async ping() { return 1; } }
export default { fetch() { return new Response("ok"); } } satisfies ExportedHandler<Env>;
