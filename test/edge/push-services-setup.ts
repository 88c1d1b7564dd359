import type { TestProject } from "vitest/node";
import { startLocalPushService, startScriptedPushService } from "../support/push-services.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** web-push-testing's push service (test/support/push-services.ts), which decrypts what it gets. */
    localPushService: string;
    /** The scripted push service: 503 then 201, or 410, and a count of what reached it. */
    scriptedPushService: string;
  }
}

/** The push services the edge's consumer sends to in the push tests (test/edge/push.test.ts). */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const local = await startLocalPushService();
  const scripted = await startScriptedPushService();
  project.provide("localPushService", local.url);
  project.provide("scriptedPushService", scripted.url);
  return async () => {
    await Promise.all([local.stop(), scripted.stop()]);
  };
}
