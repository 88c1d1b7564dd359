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
 * It also remembers which numbers a person has signed in with through the login page (with a texted
 * code): those belong to real citizens, and the scripts' door (/dev/id-tokens) never mints for them.
 * Kept in memory and written through to the state folder after every change.
 */

const registryFile = z.record(z.string().regex(/^\+82\d{9,10}$/), z.object({ birthdate: calendarDate, signedIn: z.literal(true).optional() }));

export interface Citizen {
  sub: string;
  phoneNumber: string;
  birthdate: string;
}

/**
 * Either every citizen of the call, in order, or the first number refused: one whose birth date
 * contradicts the registry, or (for a script's claim) one a person has signed in with.
 */
export type ClaimResult = { ok: true; citizens: Citizen[] } | { ok: false; reason: "birthdate_conflict" | "signed_in"; phoneNumber: string };

/** Who vouches for the numbers of a claim: a texted code at the login page, or a script holding the mint secret. */
export type ClaimSource = "sign-in" | "script";

export class CitizenRegistry {
  readonly #path: string;
  readonly #subjectSecret: string;
  readonly #byPhone = new Map<string, string>();
  /** Numbers a person has signed in with through the login page. */
  readonly #signedIn = new Set<string>();
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
      for (const [phone, entry] of Object.entries(parsed.data)) {
        this.#remember(phone, entry.birthdate);
        if (entry.signedIn) this.#signedIn.add(phone);
      }
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
   * date. All or nothing: if any entry is refused, none is recorded and the first refusal is returned.
   * A script's claim is refused for a number a person has signed in with, before its birth date is looked
   * at, so the answer is the same whatever date the script named: it confirms nothing about a citizen's
   * birth date. A sign-in's claim marks its number as signed in.
   */
  claimAll(entries: readonly { phoneNumber: string; birthdate: string }[], source: ClaimSource): ClaimResult {
    const pending = new Map<string, string>();
    for (const { phoneNumber, birthdate } of entries) {
      if (source === "script" && this.#signedIn.has(phoneNumber)) return { ok: false, reason: "signed_in", phoneNumber };
      const known = this.#byPhone.get(phoneNumber) ?? pending.get(phoneNumber);
      if (known !== undefined && known !== birthdate) return { ok: false, reason: "birthdate_conflict", phoneNumber };
      if (known === undefined) pending.set(phoneNumber, birthdate);
    }
    const newlySignedIn = source === "sign-in" ? entries.filter(({ phoneNumber }) => !this.#signedIn.has(phoneNumber)) : [];
    if (pending.size > 0 || newlySignedIn.length > 0) {
      for (const [phone, birthdate] of pending) this.#remember(phone, birthdate);
      for (const { phoneNumber } of newlySignedIn) this.#signedIn.add(phoneNumber);
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
    const data = Object.fromEntries([...this.#byPhone].map(([phone, birthdate]) => [phone, this.#signedIn.has(phone) ? { birthdate, signedIn: true } : { birthdate }]));
    writeFileAtomic(this.#path, `${JSON.stringify(data)}\n`);
  }
}
