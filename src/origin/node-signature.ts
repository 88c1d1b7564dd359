import { KeyObject, verify, type webcrypto } from "node:crypto";
import { webCryptoSignatureCheck, type SignatureCheck } from "../contract/direct-jwt.js";

const keyObjects = new WeakMap<CryptoKey, KeyObject>();

/**
 * A pass's ES256 signature checked by node:crypto's synchronous verify, for the Node origin (node.ts).
 * Node's WebCrypto runs each verify as a thread-pool job, and its glue (the job, its promise, the
 * algorithm's normalization) costs the main thread more than the verify itself; every booking verifies a
 * pass. node:crypto's callback form moves the verify off the main thread too, but each job then costs
 * about four futex calls of thread hand-over, and on a machine whose cores are all busy that is more CPU
 * in all. The key is the one jose resolved, as a KeyObject made once per key (jose keeps its keys).
 */
export const nodeSignatureCheck: SignatureCheck = (alg, key, signature, signingInput) => {
  if (alg !== "ES256") return webCryptoSignatureCheck(alg, key, signature, signingInput);
  let keyObject = keyObjects.get(key);
  if (!keyObject) keyObjects.set(key, (keyObject = KeyObject.from(key as unknown as webcrypto.CryptoKey)));
  return verify("sha256", signingInput, { key: keyObject, dsaEncoding: "ieee-p1363" }, signature);
};
