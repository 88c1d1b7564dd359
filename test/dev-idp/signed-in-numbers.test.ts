import { randomBytes } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { CitizenRegistry } from "../../src/dev-idp/registry.js";
import { newStateDir, removeStateDirs } from "./support/provider.js";

/**
 * The registry's memory of who signed in at the login page, which shuts the scripts' door to those
 * numbers: it survives a restart (the provider reads its state folder again), and a script's refusal
 * never depends on the birth date it named.
 */

afterAll(removeStateDirs);

describe("numbers a person signed in with", () => {
  it("are refused to scripts whatever birth date they name, after a restart too, and keep their own birth date", () => {
    const stateDir = newStateDir();
    const secret = randomBytes(32).toString("base64url");
    const citizen = { phoneNumber: "+821055550001", birthdate: "1964-05-17" };
    const scripted = { phoneNumber: "+821055550002", birthdate: "1970-01-02" };

    const first = new CitizenRegistry(stateDir, secret);
    expect(first.claimAll([scripted], "script").ok).toBe(true);
    expect(first.claimAll([citizen], "sign-in").ok).toBe(true);

    const again = new CitizenRegistry(stateDir, secret);
    for (const birthdate of ["1964-05-17", "1964-05-18", "2001-12-31"]) {
      expect(again.claimAll([{ ...citizen, birthdate }], "script")).toEqual({ ok: false, reason: "signed_in", phoneNumber: citizen.phoneNumber });
      // In a batch, whatever comes with it.
      expect(again.claimAll([scripted, { ...citizen, birthdate }], "script")).toEqual({ ok: false, reason: "signed_in", phoneNumber: citizen.phoneNumber });
    }
    // The person still signs in, with the registered birth date only.
    expect(again.claimAll([citizen], "sign-in").ok).toBe(true);
    expect(again.claimAll([{ ...citizen, birthdate: "1964-05-18" }], "sign-in")).toEqual({ ok: false, reason: "birthdate_conflict", phoneNumber: citizen.phoneNumber });
    // A number only scripts used stays theirs, and a person may still sign in with it.
    expect(again.claimAll([scripted], "script").ok).toBe(true);
    expect(again.claimAll([scripted], "sign-in").ok).toBe(true);
    expect(new CitizenRegistry(stateDir, secret).claimAll([scripted], "script")).toMatchObject({ ok: false, reason: "signed_in" });
  });
});
