/**
 * When a shard's alarm must ring, by one rule: while anyone waits in a line that is not paused, the line
 * moves on a one-second beat even if nobody asks; and a shard holding a pre-queue is woken at the opening,
 * so the placement happens on time. Alarms run on the runtime's clock, as the opening time is.
 */

/** While people wait, the line moves on this beat even if nobody asks. */
export const TICK_MS = 1_000;

export interface AlarmInputs {
  /** The alarm already set (null: none). */
  setAt: number | null;
  /** The runtime's clock. */
  now: number;
  /** Someone waits (or came back and waits) in a line that is not paused. */
  moving: boolean;
  /** The pre-queue's opening, when the shard holds a pre-queue not yet placed. */
  opensAt: number | null;
}

/** The time to set the alarm to, or null when the one set (or none) will do. */
export function nextAlarm({ setAt, now, moving, opensAt }: AlarmInputs): number | null {
  const wanted = Math.min(moving ? now + TICK_MS : Number.POSITIVE_INFINITY, opensAt ?? Number.POSITIVE_INFINITY);
  if (wanted === Number.POSITIVE_INFINITY) return null;
  // An alarm due at most a beat ago is about to run, and one due before `wanted` runs first: either will do.
  if (setAt !== null && setAt > now - TICK_MS && setAt <= wanted) return null;
  return wanted;
}
