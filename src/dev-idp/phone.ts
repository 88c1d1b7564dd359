/**
 * Korean mobile numbers, as people type them. The provider's subject is derived from the number, so
 * every spelling of one number must become the same string, or one person would hold several identities,
 * and so several places in the line. E.164 is that string.
 */

/** Korean mobile numbers: 010 with eight digits, or the older 011/016/017/018/019 with seven or eight. */
const MOBILE = /^(?:010\d{8}|01[16789]\d{7,8})$/;

/**
 * The E.164 form (`+821012345678`) of a Korean mobile number written as `010-1234-5678`, `01012345678`,
 * `+82 10 1234 5678`, `+82 (0)10-1234-5678`, `0082 10…` or `+821012345678`; undefined for anything else.
 */
export function toE164(input: string): string | undefined {
  const trimmed = input.trim();
  // Spaces, dashes, dots and brackets are layout; any other character means it is not a phone number.
  if (trimmed.length > 32 || !/^\+?[\d\s().-]+$/.test(trimmed)) return undefined;
  let digits = trimmed.replace(/[\s().-]/g, "");
  if (digits.startsWith("+82")) digits = digits.slice(3);
  else if (digits.startsWith("0082")) digits = digits.slice(4);
  else if (digits.startsWith("+")) return undefined; // another country: this provider only knows Korean SIMs
  // "+82 (0)10…" and "+82 010…" keep the trunk 0 that E.164 drops.
  const national = digits.startsWith("0") ? digits : `0${digits}`;
  return MOBILE.test(national) ? `+82${national.slice(1)}` : undefined;
}

/**
 * How the SMS line names a number: `+82 10-****-5678`. The middle digits are hidden as a phone's lock
 * screen would; tests find their code by this exact shape, so it is computed here once.
 */
export function maskedPhone(e164: string): string {
  const national = e164.startsWith("+82") ? e164.slice(3) : e164; // "1012345678"
  const prefix = national.slice(0, 2);
  const last = national.slice(-4);
  const middle = national.slice(2, -4);
  return `+82 ${prefix}-${"*".repeat(middle.length)}-${last}`;
}
