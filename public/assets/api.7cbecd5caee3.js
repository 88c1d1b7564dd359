// @ts-check
/**
 * The page's one way to talk to the edge: same-origin JSON, never cached, errors in the contract's shape.
 * @typedef {import("../src/contract/errors.js").ErrorBody["error"]} ApiError
 */

/**
 * @param {string} path
 * @param {RequestInit} [init]
 * @returns {Promise<{ status: number, body: any, error: ApiError | null }>} rejects only on network failure
 */
export async function api(path, init = {}) {
  const res = await fetch(path, { ...init, cache: "no-store", headers: { accept: "application/json", ...(init.body ? { "content-type": "application/json" } : {}) } });
  let body = null;
  try {
    body = await res.json();
  } catch {
    // A proxy's HTML error page: treated like any other failure below.
  }
  const error = !res.ok && body && typeof body.error === "object" ? body.error : null;
  if (!res.ok && !error) return { status: res.status, body: null, error: { code: "unavailable", message: "", retryAfterSeconds: Number(res.headers.get("retry-after")) || undefined } };
  return { status: res.status, body, error };
}
