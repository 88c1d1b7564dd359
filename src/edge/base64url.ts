/**
 * base64url without padding, as JWTs and citizen keys use it, through V8's own base64
 * (Uint8Array.prototype.toBase64, Uint8Array.fromBase64), which workerd has: this module runs only there.
 * Not node:buffer's Buffer, a JavaScript layer over the same native code that allocates a wrapper on every
 * call, and a join encodes or decodes four times (key, shard, tag, ticket). Typed here because
 * TypeScript's ES2023 library does not describe them yet.
 */

type NativeBase64Options = { alphabet: "base64url"; omitPadding?: boolean };
const ENCODE: NativeBase64Options = { alphabet: "base64url", omitPadding: true };
const DECODE: NativeBase64Options = { alphabet: "base64url" };
const nativeBase64 = Uint8Array as unknown as { fromBase64(text: string, options: NativeBase64Options): Uint8Array };

export function base64url(bytes: Uint8Array): string {
  return (bytes as Uint8Array & { toBase64(options: NativeBase64Options): string }).toBase64(ENCODE);
}

/** Decodes base64url; throws a SyntaxError on a character outside the alphabet. */
export function base64urlDecode(s: string): Uint8Array {
  return nativeBase64.fromBase64(s, DECODE);
}
