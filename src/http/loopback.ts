/**
 * The names a URL gives this machine by (`URL.hostname` keeps IPv6 in brackets). Plain http to such a host
 * never leaves the machine, so the edge allows it for the development provider, and the fault hooks serve
 * only requests addressed to it.
 */
const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(["127.0.0.1", "localhost", "[::1]"]);

/** Whether `hostname` (as `URL.hostname` gives it) names this machine. */
export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname);
}
