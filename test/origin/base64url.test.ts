import { base64url } from "jose";
import { describe, expect, it } from "vitest";
import { decodeBase64url } from "../../src/contract/base64url.js";

/**
 * The direct JWT check decodes a token's parts with decodeBase64url (src/contract/base64url.ts), which in
 * Node decodes through Buffer where jose goes through atob; a part must decode to the same bytes, or fail
 * where jose's decode fails, or the check could take a token jose refuses.
 */
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

function joseDecode(text: string): Uint8Array | "throws" {
  try {
    return base64url.decode(text);
  } catch {
    return "throws";
  }
}

function ours(text: string): Uint8Array | "throws" {
  try {
    return new Uint8Array(decodeBase64url(text));
  } catch {
    return "throws";
  }
}

describe("decodeBase64url decodes as jose's base64url.decode does", () => {
  it("base64url text of every length, a 4n+1 length refused", () => {
    let refused = 0;
    for (let length = 0; length <= 200; length++) {
      for (let k = 0; k < 4; k++) {
        let text = "";
        for (let i = 0; i < length; i++) text += ALPHABET[Math.floor(Math.random() * ALPHABET.length)];
        // The last character's unused bits set and unset both.
        for (const t of [text, text.replace(/.$/, "_"), text.replace(/.$/, "A")]) {
          const expected = joseDecode(t);
          expect(ours(t), t).toEqual(expected);
          if (expected === "throws") refused++;
        }
      }
    }
    expect(refused).toBeGreaterThan(0);
  });

  it("text jose reads otherwise: padding, the base64 alphabet, spaces, other characters", () => {
    const tokens = ["eyJhbGciOiJFUzI1NiJ9", "eyJhbGciOiJFUzI1NiJ9=", "YQ==", "YQ", "YQ=", "Y Q", " YQ", "a+b/", "a+b_", "YQ\n", "ä", "YQ.", "=", "====", "Y===", "AAAA AAAA"];
    for (const t of tokens) expect(ours(t), JSON.stringify(t)).toEqual(joseDecode(t));
  });
});
