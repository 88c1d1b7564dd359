import { randomInt, timingSafeEqual } from "node:crypto";
import { maskedPhone } from "./phone.js";

/**
 * The second factor: a six-digit code "sent by SMS", which on a laptop means printed on the provider's
 * console. A code lives five minutes and survives five wrong tries; after that the login starts over
 * with a new code: a guesser gets five chances in a million per code sent, never an open-ended search.
 * A number gets at most MAX_CODES_PER_WINDOW codes per CODE_WINDOW_MS, so restarting the login over and
 * over buys a guesser at most 25 guesses a quarter of an hour, as a real SMS gateway would allow.
 */

export const CODE_TTL_MS = 5 * 60_000;
export const MAX_WRONG_TRIES = 5;
export const MAX_CODES_PER_WINDOW = 5;
export const CODE_WINDOW_MS = 15 * 60_000;

export interface SmsChallenge {
  phoneNumber: string;
  /** The birth date typed at step 1, checked against the registry only once the phone is proven. */
  birthdate: string;
  code: string;
  expiresAt: number;
  wrongTries: number;
}

export type CodeCheck =
  | { outcome: "verified"; phoneNumber: string; birthdate: string }
  | { outcome: "wrong"; triesLeft: number }
  /** No live challenge (never sent, expired, or the tries ran out): the login must restart at step 1. */
  | { outcome: "restart"; reason: "expired" | "too_many_tries" | "none" };

/**
 * Challenges keyed by the provider's interaction id. The interaction id is only usable together with the
 * browser's interaction cookie (oidc-provider checks both), so a challenge cannot be answered from
 * another browser.
 */
export class SmsChallenges {
  readonly #byInteraction = new Map<string, SmsChallenge>();
  /** When codes were sent to each number, within the last CODE_WINDOW_MS. */
  readonly #sentTo = new Map<string, number[]>();
  readonly #print: (line: string) => void;
  readonly #now: () => number;

  constructor(print: (line: string) => void, now: () => number = Date.now) {
    this.#print = print;
    this.#now = now;
  }

  /**
   * Sends (prints) a fresh code for this interaction, replacing any earlier one; false, sending nothing,
   * when the number has had its codes for this window.
   */
  send(interactionId: string, phoneNumber: string, birthdate: string): boolean {
    this.#sweep();
    const recent = this.#sentTo.get(phoneNumber) ?? [];
    if (recent.length >= MAX_CODES_PER_WINDOW) return false;
    this.#sentTo.set(phoneNumber, [...recent, this.#now()]);
    const code = String(randomInt(0, 1_000_000)).padStart(6, "0");
    this.#byInteraction.set(interactionId, { phoneNumber, birthdate, code, expiresAt: this.#now() + CODE_TTL_MS, wrongTries: 0 });
    // The one line tests and people read the code from; nothing else the provider logs carries a code.
    this.#print(`SMS to ${maskedPhone(phoneNumber)}: your code is ${code}`);
    return true;
  }

  /** The number a code is pending for, so step 2 can say where it went. */
  pending(interactionId: string): SmsChallenge | undefined {
    const challenge = this.#byInteraction.get(interactionId);
    return challenge && challenge.expiresAt > this.#now() ? challenge : undefined;
  }

  check(interactionId: string, typed: string): CodeCheck {
    const challenge = this.#byInteraction.get(interactionId);
    if (!challenge) return { outcome: "restart", reason: "none" };
    if (challenge.expiresAt <= this.#now()) {
      this.#byInteraction.delete(interactionId);
      return { outcome: "restart", reason: "expired" };
    }
    const candidate = typed.trim();
    const matches = /^\d{6}$/.test(candidate) && timingSafeEqual(Buffer.from(candidate), Buffer.from(challenge.code));
    if (matches) {
      // One use: a verified code cannot finish a second login.
      this.#byInteraction.delete(interactionId);
      return { outcome: "verified", phoneNumber: challenge.phoneNumber, birthdate: challenge.birthdate };
    }
    challenge.wrongTries += 1;
    if (challenge.wrongTries >= MAX_WRONG_TRIES) {
      this.#byInteraction.delete(interactionId);
      return { outcome: "restart", reason: "too_many_tries" };
    }
    return { outcome: "wrong", triesLeft: MAX_WRONG_TRIES - challenge.wrongTries };
  }

  /** Forgets the challenge (the citizen chose another number). */
  drop(interactionId: string): void {
    this.#byInteraction.delete(interactionId);
  }

  /** Expired challenges go when new ones arrive, so abandoned logins cannot grow the map without bound. */
  #sweep(): void {
    const now = this.#now();
    for (const [id, c] of this.#byInteraction) if (c.expiresAt <= now) this.#byInteraction.delete(id);
    for (const [phone, times] of this.#sentTo) {
      const recent = times.filter((t) => t > now - CODE_WINDOW_MS);
      if (recent.length) this.#sentTo.set(phone, recent);
      else this.#sentTo.delete(phone);
    }
  }
}
