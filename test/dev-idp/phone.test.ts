import { describe, expect, it } from "vitest";
import { maskedPhone, toE164 } from "../../src/dev-idp/phone.js";

describe("phone numbers", () => {
  it("normalises every spelling of a Korean mobile number to one E.164 string", () => {
    for (const spelling of ["010-1234-5678", "01012345678", "+82 10 1234 5678", "+821012345678", "+82-10-1234-5678", "+82 (0)10-1234-5678", "0082 10 1234 5678", " 010.1234.5678 "]) {
      expect(toE164(spelling), spelling).toBe("+821012345678");
    }
    expect(toE164("011-234-5678")).toBe("+82112345678");
  });

  it("refuses what is not a Korean mobile number", () => {
    for (const input of ["", "02-1234-5678", "+1 415 555 0100", "010-1234-567", "010-1234-56789", "010-1234-5678x", "phone", "+82 10 1234 5678 9", "0101234567８"]) {
      expect(toE164(input), input).toBeUndefined();
    }
  });

  it("masks the middle digits as the SMS line shows them", () => {
    expect(maskedPhone("+821012345678")).toBe("+82 10-****-5678");
    expect(maskedPhone("+82112345678")).toBe("+82 11-***-5678");
  });
});
