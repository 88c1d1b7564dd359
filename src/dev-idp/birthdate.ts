import { calendarDate } from "../contract/dates.js";

/**
 * Birth dates as the provider accepts them: a real calendar date, not in the future, not before 1900
 * (the registry of a living population). Written YYYY-MM-DD; the login page also takes 19640517 and
 * 1964.05.17, as Korean forms commonly show them.
 */
export function normaliseBirthdate(input: string, today = new Date()): string | undefined {
  const m = /^(\d{4})[-./ ]?(\d{2})[-./ ]?(\d{2})$/.exec(input.trim());
  if (!m) return undefined;
  const date = `${m[1]}-${m[2]}-${m[3]}`;
  return isPlausibleBirthdate(date, today) ? date : undefined;
}

/** A YYYY-MM-DD date that exists, from 1900 up to today. */
export function isPlausibleBirthdate(date: string, today = new Date()): boolean {
  return calendarDate.safeParse(date).success && date >= "1900-01-01" && date <= today.toISOString().slice(0, 10);
}
