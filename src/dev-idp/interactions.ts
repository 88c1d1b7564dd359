import type { IncomingMessage, ServerResponse } from "node:http";
import Provider, { errors, type Grant, type Interaction } from "oidc-provider";
import { normaliseBirthdate } from "./birthdate.js";
import { SCOPE_CLAIMS } from "./id-tokens.js";
import { ClientProblem, readForm, seeOther, sendHtml } from "./http.js";
import { type Bilingual, codePage, errorPage, type Lang, pageLang, phonePage } from "./pages.js";
import { maskedPhone, toE164 } from "./phone.js";
import type { CitizenRegistry } from "./registry.js";
import { CODE_WINDOW_MS, MAX_WRONG_TRIES, type SmsChallenges } from "./sms.js";

/**
 * The login interaction: oidc-provider sends the browser to /interaction/<uid> when it needs to know who
 * the citizen is. Step 1 takes a phone number and a birth date and "sends" a code; step 2 takes the code,
 * and only then is the birth date checked against (or recorded in) the registry, so a stranger who types
 * somebody's number learns nothing about them. The provider then finishes the authorization request.
 *
 *   GET  /interaction/<uid>          step 1, or step 2 while a code is pending
 *   POST /interaction/<uid>/phone    phone + birthdate → code printed, back to step 2
 *   POST /interaction/<uid>/code     the code → back to the relying party
 *   GET  /interaction/<uid>/restart  forget the pending code, back to step 1
 *   GET  /interaction/<uid>/abort    back to the relying party with access_denied
 */

const PATH = /^\/interaction\/([A-Za-z0-9_-]{1,64})(?:\/(phone|code|restart|abort))?\/?$/;

const MESSAGES = {
  badPhone: { ko: "휴대전화 번호를 확인하세요 (예: 010-1234-5678).", en: "Check the mobile number (e.g. 010-1234-5678)." },
  badBirthdate: { ko: "생년월일을 YYYY-MM-DD 형식으로 입력하세요 (예: 1964-05-17).", en: "Enter your date of birth as YYYY-MM-DD (e.g. 1964-05-17)." },
  tooManyTries: {
    ko: `인증번호를 ${MAX_WRONG_TRIES}번 잘못 입력했습니다. 처음부터 다시 하세요.`,
    en: `The code was wrong ${MAX_WRONG_TRIES} times. Start again.`,
  },
  tooManyCodes: {
    ko: `이 번호로 인증번호를 너무 많이 요청했습니다. ${CODE_WINDOW_MS / 60_000}분 뒤에 다시 하세요.`,
    en: `Too many codes were sent to this number. Try again in ${CODE_WINDOW_MS / 60_000} minutes.`,
  },
  expired: { ko: "인증번호가 만료되었습니다. 처음부터 다시 하세요.", en: "The code has expired. Start again." },
  noCode: { ko: "먼저 휴대전화 번호를 입력하세요.", en: "Enter your mobile number first." },
  conflict: {
    ko: "이 번호에 등록된 생년월일과 다릅니다. 등록된 생년월일을 입력하세요.",
    en: "This number is registered with another date of birth. Enter the registered one.",
  },
  sessionGone: { ko: "로그인 시간이 지났거나 다른 브라우저에서 열렸습니다.", en: "This sign-in has expired or was opened in another browser." },
} satisfies Record<string, Bilingual>;

function wrongCode(triesLeft: number): Bilingual {
  return { ko: `인증번호가 틀렸습니다. ${triesLeft}번 더 시도할 수 있습니다.`, en: `Wrong code. ${triesLeft} more ${triesLeft === 1 ? "try" : "tries"}.` };
}

export interface InteractionDeps {
  provider: Provider;
  registry: CitizenRegistry;
  sms: SmsChallenges;
  /** Where sign-in outcomes go (masked numbers only: never a code, a token or a birth date). */
  log: (line: string) => void;
}

/** Handles one request under /interaction/. */
export async function handleInteraction(deps: InteractionDeps, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const { provider, sms } = deps;
  const m = PATH.exec(url.pathname);
  if (!m) throw new ClientProblem(404, "not_found", "no such page");
  const uid = m[1]!;
  const action = m[2];
  const expected = action === "phone" || action === "code" ? "POST" : "GET";
  if (req.method !== expected && !(expected === "GET" && req.method === "HEAD")) {
    throw new ClientProblem(405, "method_not_allowed", `use ${expected}`, expected === "GET" ? "GET, HEAD" : expected);
  }

  let interaction: Interaction;
  try {
    interaction = await provider.interactionDetails(req, res);
  } catch (err) {
    if (err instanceof errors.SessionNotFound) return sendHtml(res, 400, errorPage({ lang: "ko", message: MESSAGES.sessionGone }));
    throw err;
  }
  // The cookie names the browser's interaction; the URL must name the same one.
  if (interaction.uid !== uid) return sendHtml(res, 400, errorPage({ lang: "ko", message: MESSAGES.sessionGone }));
  const lang = pageLang(interaction.params.ui_locales);

  if (interaction.prompt.name === "consent") return grantConsent(provider, interaction, req, res);
  if (interaction.prompt.name !== "login") return sendHtml(res, 400, errorPage({ lang, message: MESSAGES.sessionGone }));

  switch (action) {
    case undefined: {
      const pending = sms.pending(uid);
      return sendHtml(res, 200, pending ? codePage({ uid, lang, maskedPhone: maskedPhone(pending.phoneNumber) }) : phonePage({ uid, lang }));
    }
    case "phone":
      return submitPhone(deps, uid, lang, req, res);
    case "code":
      return submitCode(deps, uid, lang, req, res);
    case "restart":
      sms.drop(uid);
      return seeOther(res, `/interaction/${uid}`);
    case "abort":
      sms.drop(uid);
      return provider.interactionFinished(req, res, { error: "access_denied", error_description: "the citizen cancelled the sign-in" }, { mergeWithLastSubmission: false });
  }
}

async function submitPhone(deps: InteractionDeps, uid: string, lang: Lang, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const form = await readForm(req);
  const typedPhone = form.get("phone") ?? "";
  // One field (YYYY-MM-DD) or three (year, month, day): whichever the page sent.
  const typedBirthdate =
    form.get("birthdate") ?? [form.get("year") ?? "", (form.get("month") ?? "").padStart(2, "0"), (form.get("day") ?? "").padStart(2, "0")].join("-");
  const phone = toE164(typedPhone);
  const birthdate = normaliseBirthdate(typedBirthdate);
  if (!phone || !birthdate) {
    const error = !phone ? MESSAGES.badPhone : MESSAGES.badBirthdate;
    return sendHtml(res, 400, phonePage({ uid, lang, phone: typedPhone.slice(0, 40), birthdate: typedBirthdate.slice(0, 20), error }));
  }
  if (!deps.sms.send(uid, phone, birthdate)) return sendHtml(res, 429, phonePage({ uid, lang, error: MESSAGES.tooManyCodes }));
  return seeOther(res, `/interaction/${uid}`);
}

async function submitCode(deps: InteractionDeps, uid: string, lang: Lang, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const form = await readForm(req);
  const pendingPhone = deps.sms.pending(uid)?.phoneNumber;
  const check = deps.sms.check(uid, form.get("code") ?? "");
  switch (check.outcome) {
    case "wrong":
      return sendHtml(res, 400, codePage({ uid, lang, maskedPhone: maskedPhone(pendingPhone ?? ""), error: wrongCode(check.triesLeft) }));
    case "restart": {
      if (check.reason === "too_many_tries" && pendingPhone) deps.log(`${maskedPhone(pendingPhone)}: ${MAX_WRONG_TRIES} wrong codes, the sign-in starts over`);
      const error = check.reason === "too_many_tries" ? MESSAGES.tooManyTries : check.reason === "expired" ? MESSAGES.expired : MESSAGES.noCode;
      return sendHtml(res, 400, phonePage({ uid, lang, error }));
    }
    case "verified": {
      const claimed = deps.registry.claimAll([{ phoneNumber: check.phoneNumber, birthdate: check.birthdate }], "sign-in");
      if (!claimed.ok) {
        deps.log(`${maskedPhone(check.phoneNumber)}: refused, the birth date differs from the registry's`);
        return sendHtml(res, 409, phonePage({ uid, lang, error: MESSAGES.conflict }));
      }
      const citizen = claimed.citizens[0]!;
      deps.log(`${maskedPhone(check.phoneNumber)}: signed in`);
      return deps.provider.interactionFinished(req, res, { login: { accountId: citizen.sub } }, { mergeWithLastSubmission: false });
    }
  }
}

/**
 * Consent is granted by loadExistingGrant for our own client, so this prompt should not appear; if the
 * library asks anyway (e.g. a new scope), the first-party client gets its scopes without a screen.
 */
async function grantConsent(provider: Provider, interaction: Interaction, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const accountId = interaction.session?.accountId;
  const clientId = interaction.params.client_id;
  if (!accountId || typeof clientId !== "string") return sendHtml(res, 400, errorPage({ lang: "ko", message: MESSAGES.sessionGone }));
  const grant: Grant = new provider.Grant({ clientId, accountId });
  // Only the scopes this provider defines; anything else the request named stays ungranted.
  const requested = typeof interaction.params.scope === "string" ? interaction.params.scope.split(" ") : [];
  grant.addOIDCScope(["openid", ...requested.filter((s) => s in SCOPE_CLAIMS && s !== "openid")].join(" "));
  const grantId = await grant.save();
  return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}
