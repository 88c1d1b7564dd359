/**
 * Whether `url` answers, within 2 s, with a status `ok` accepts: how `npm start` waits for each part to
 * serve, and how the fault suite waits for one to come back. Any failure to connect or a timeout is "no".
 */
export async function probeHttp(url: string, ok: (status: number) => boolean): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    await res.body?.cancel();
    return ok(res.status);
  } catch {
    return false;
  }
}
