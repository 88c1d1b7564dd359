/**
 * Whether `url` answers, within 2 s, with a status `ok` accepts: how `npm start`, the fault suite, the
 * browser tests and the origin bench tell that a server is up. A refused connection or a timeout is "no".
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
