/**
 * An admitted citizen's booking traffic, as a crowd's would reach the origin: what makes a shard hear the
 * origin's health, so its autopilot steers (test/browser/autopilot.test.ts, ops-console.test.ts).
 */

/** The pass of the ticket at the front, once the shard has admitted it. */
export async function passOf(edgeUrl: string, ticket: string): Promise<string> {
  for (let i = 0; i < 20; i++) {
    const res = await fetch(`${edgeUrl}/api/queue/status`, { headers: { authorization: `Bearer ${ticket}` } });
    const pass = ((await res.json()) as { pass?: string }).pass;
    if (pass) return pass;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error("the first ticket was never admitted");
}

/**
 * The pass holder's own booking, read through the gate (which forwards it every time: slot reads are
 * answered from the edge's cache) by eight readers, each 30 ms after its last answer: about 250 requests a
 * second while the origin is quick, enough for a decision of the autopilot every 250 ms at time scale 20.
 * `statuses` counts the gate's answers; `stop` ends the readers.
 */
export function readBookings(edgeUrl: string, pass: string): { statuses: Map<number, number>; stop(): Promise<void> } {
  let reading = true;
  const statuses = new Map<number, number>();
  const readers = Array.from({ length: 8 }, async () => {
    while (reading) {
      const res = await fetch(`${edgeUrl}/api/bookings/me`, { headers: { authorization: `Bearer ${pass}` } });
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      await res.arrayBuffer();
      await new Promise((r) => setTimeout(r, 30));
    }
  });
  return {
    statuses,
    stop: async () => {
      reading = false;
      await Promise.all(readers);
    },
  };
}
