import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { calendarDate } from "../contract/dates.js";
import { writeFileAtomic } from "./state.js";
import { subjectFor } from "./subject.js";

/**
 * The provider's stand-in for the national resident registry: phone number → birth date. The first
 * verified login of a number records the birth date given; afterwards the registry, not what a person
 * types, is the truth, so nobody can move themselves into another cohort by typing another year.
 * Kept in memory and written through to the state folder after every change.
 */

const registryFile = z.record(z.string().regex(/^\+82\d{9,10}$/), z.object({ birthdate: calendarDate }));

export interface Citizen {
  sub: string;
  phoneNumber: string;
  birthdate: string;
}

/** Either every citizen of the call, in order, or the first number whose birth date contradicts the registry. */
export type ClaimResult = { ok: true; citizens: Citizen[] } | { ok: false; conflictingPhoneNumber: string };

export class CitizenRegistry {
  readonly #path: string;
  readonly #subjectSecret: string;
  readonly #byPhone = new Map<string, string>();
  readonly #phoneBySub = new Map<string, string>();

  constructor(stateDir: string, subjectSecret: string) {
    this.#path = join(stateDir, "registry.json");
    this.#subjectSecret = subjectSecret;
    if (existsSync(this.#path)) {
      let parsed;
      try {
        parsed = registryFile.safeParse(JSON.parse(readFileSync(this.#path, "utf8")));
      } catch {
        parsed = undefined;
      }
      if (!parsed?.success) throw new Error(`${this.#path} is not a phone registry; delete it to start an empty one`);
      for (const [phone, entry] of Object.entries(parsed.data)) this.#remember(phone, entry.birthdate);
    }
  }

  /** The citizen with this `sub`, if any number registered so far hashes to it. */
  findBySub(sub: string): Citizen | undefined {
    const phone = this.#phoneBySub.get(sub);
    const birthdate = phone === undefined ? undefined : this.#byPhone.get(phone);
    return phone === undefined || birthdate === undefined ? undefined : { sub, phoneNumber: phone, birthdate };
  }

  /**
   * Records each (E.164 number, birth date) the first time the number is seen, or confirms the recorded
   * date. All or nothing: if any entry contradicts the registry (or another entry of the same call), none
   * is recorded and the first contradiction is returned.
   */
  claimAll(entries: readonly { phoneNumber: string; birthdate: string }[]): ClaimResult {
    const pending = new Map<string, string>();
    for (const { phoneNumber, birthdate } of entries) {
      const known = this.#byPhone.get(phoneNumber) ?? pending.get(phoneNumber);
      if (known !== undefined && known !== birthdate) return { ok: false, conflictingPhoneNumber: phoneNumber };
      if (known === undefined) pending.set(phoneNumber, birthdate);
    }
    if (pending.size > 0) {
      for (const [phone, birthdate] of pending) this.#remember(phone, birthdate);
      this.#save();
    }
    const citizens = entries.map(({ phoneNumber, birthdate }) => ({ sub: subjectFor(this.#subjectSecret, phoneNumber), phoneNumber, birthdate }));
    return { ok: true, citizens };
  }

  #remember(phone: string, birthdate: string): void {
    this.#byPhone.set(phone, birthdate);
    this.#phoneBySub.set(subjectFor(this.#subjectSecret, phone), phone);
  }

  #save(): void {
    const data = Object.fromEntries([...this.#byPhone].map(([phone, birthdate]) => [phone, { birthdate }]));
    writeFileAtomic(this.#path, `${JSON.stringify(data)}\n`);
  }
}
