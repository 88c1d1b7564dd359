// @ts-check
/**
 * Words, numbers, times and waits in the reader's chosen language (`app.lang`); times always in Korea time.
 * @typedef {import("./strings.js").Key} Key
 * @typedef {import("./strings.js").Message} Message
 */
import { app } from "./state.327ee715b947.js";
import { STRINGS } from "./strings.ccc2ef22e196.js";

const SEOUL = "Asia/Seoul";

/**
 * @param {Key} key
 * @param {Record<string, string | number>} [params]
 */
export function t(key, params = {}) {
  return STRINGS[app.lang][key].replace(/\{(\w+)\}/g, (_, name) => String(params[name] ?? ""));
}

/** @param {Message | null} m */
export const tm = (m) => (m ? t(m.key, m.params) : "");

const locale = () => (app.lang === "ko" ? "ko-KR" : "en-US");
export const number = (/** @type {number} */ n) => new Intl.NumberFormat(locale()).format(n);

/** An opening time or a deadline, in Korea time, in the reader's language. */
export function when(/** @type {string} */ iso) {
  return new Intl.DateTimeFormat(locale(), {
    timeZone: SEOUL, year: "numeric", month: "long", day: "numeric", weekday: "long", hour: "numeric", minute: "2-digit",
  }).format(new Date(iso));
}
export const clock = (/** @type {string} */ iso) =>
  new Intl.DateTimeFormat(locale(), { timeZone: SEOUL, hour: "numeric", minute: "2-digit" }).format(new Date(iso));
export const day = (/** @type {string} */ ymd) =>
  new Intl.DateTimeFormat(locale(), { timeZone: SEOUL, month: "long", day: "numeric", weekday: "short" }).format(new Date(`${ymd}T12:00:00+09:00`));

/** A slot's day and time, in Korea time, saying so: "Tue, Dec 8, 9:30 AM (Korea time)". */
export const slotTime = (/** @type {string} */ iso) =>
  `${new Intl.DateTimeFormat(locale(), { timeZone: SEOUL, weekday: "short", month: "short", day: "numeric", hour: "numeric", minute: "2-digit" }).format(new Date(iso))} (${t("koreaTime")})`;

/** @param {number} minutes */
function duration(minutes) {
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  if (h === 0) return t("min", { m: number(m) });
  return m === 0 ? t("hours", { h: number(h) }) : t("hoursMin", { h: number(h), m: number(m) });
}

/**
 * An honest wait: a range in whole minutes ("약 3~5분" / "about 3–5 min"), coarser past an hour so it
 * does not pretend to a precision the estimate does not have.
 * @param {{ low: number, high: number }} eta seconds
 */
export function formatEta(eta) {
  if (eta.high < 60) return t("underMinute");
  const step = eta.high >= 3600 ? 5 : 1;
  const low = Math.max(1, Math.floor(Math.round(eta.low / 60) / step) * step);
  const high = Math.max(low, Math.ceil(eta.high / 60 / step) * step);
  if (low === high) return t("about", { a: duration(low) });
  if (high < 60) return t("aboutRangeMin", { a: number(low), b: number(high) });
  return t("aboutRange", { a: duration(low), b: duration(high) });
}

/** A moment (ms) to the second, in Korea time: when the numbers on a page that lost its connection are from. */
export const clockSeconds = (/** @type {number} */ ms) =>
  new Intl.DateTimeFormat(locale(), { timeZone: SEOUL, hour: "numeric", minute: "2-digit", second: "2-digit" }).format(new Date(ms));

/** Today's date in Korea, and the days after it, as YYYY-MM-DD. */
export function seoulDays(/** @type {number} */ count) {
  const today = new Date(Date.now() + 9 * 3600_000).toISOString().slice(0, 10);
  return Array.from({ length: count }, (_, i) => new Date(Date.parse(`${today}T00:00:00Z`) + i * 86_400_000).toISOString().slice(0, 10));
}
