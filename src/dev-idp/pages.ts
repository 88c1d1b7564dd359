/**
 * The provider's own pages: plain HTML forms that work without JavaScript, in Korean with English beside
 * it (or English first when the relying party asked for `ui_locales=en`). Every value that came from a
 * request is escaped; labels are tied to their fields so screen readers and tests find them by name.
 */

import { escapeHtml } from "../http/html.js";

export type Lang = "ko" | "en";

/** Text in both languages; a page shows the chosen one first and the other beside it. */
export interface Bilingual {
  ko: string;
  en: string;
}

/** The page language a relying party asked for (OIDC `ui_locales`, space-separated, in preference order). */
export function pageLang(uiLocales: unknown): Lang {
  if (typeof uiLocales !== "string") return "ko";
  for (const tag of uiLocales.split(/\s+/)) {
    const primary = tag.toLowerCase().split("-")[0];
    if (primary === "ko" || primary === "en") return primary;
  }
  return "ko";
}

/** Both languages, the page's first; the second marked with its own `lang` so it is read correctly. */
function both(text: Bilingual, lang: Lang): string {
  const other: Lang = lang === "ko" ? "en" : "ko";
  return `${escapeHtml(text[lang])} <span class="other" lang="${other}">${escapeHtml(text[other])}</span>`;
}

const STYLE = `
body{font-family:system-ui,"Apple SD Gothic Neo","Noto Sans KR",sans-serif;margin:0;background:#f4f6f8;color:#1b1f23;line-height:1.5}
main{max-width:26rem;margin:2rem auto;padding:1.5rem;background:#fff;border-radius:.5rem;box-shadow:0 1px 3px rgba(0,0,0,.15)}
h1{font-size:1.3rem;margin:0 0 1rem}
.other{display:block;font-size:.85em;color:#555;font-weight:normal}
label{display:block;font-weight:600;margin:1rem 0 .25rem}
input{font-size:1.1rem;padding:.5rem;width:100%;box-sizing:border-box;border:1px solid #8a939c;border-radius:.25rem}
button{font-size:1.05rem;margin-top:1.25rem;padding:.6rem 1rem;width:100%;border:0;border-radius:.25rem;background:#0b57d0;color:#fff;cursor:pointer}
button .other{color:#e3ebfb}
button:focus,input:focus,a:focus{outline:3px solid #f0a000;outline-offset:2px}
.alert{background:#fdecea;border-left:4px solid #c62828;padding:.5rem .75rem;margin:0 0 1rem}
.note{font-size:.9rem;color:#444}
.links{margin-top:1.25rem;font-size:.9rem;display:flex;justify-content:space-between;gap:1rem}
`;

function layout(lang: Lang, title: Bilingual, body: string): string {
  return `<!doctype html>
<html lang="${lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${escapeHtml(title[lang])} · ${escapeHtml(title[lang === "ko" ? "en" : "ko"])}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<h1>${both(title, lang)}</h1>
<p class="note">${both({ ko: "개발용 본인확인 서비스입니다. 실제 문자는 발송되지 않습니다.", en: "Development identity provider: no real SMS is sent." }, lang)}</p>
${body}
</main>
</body>
</html>
`;
}

function alert(error: Bilingual | undefined, lang: Lang): string {
  return error ? `<p class="alert" role="alert" id="error">${both(error, lang)}</p>` : "";
}

function cancelLink(uid: string, lang: Lang): string {
  return `<a href="/interaction/${encodeURIComponent(uid)}/abort">${both({ ko: "취소", en: "Cancel" }, lang)}</a>`;
}

/** Step 1: phone number and birth date. */
export function phonePage(opts: { uid: string; lang: Lang; phone?: string; birthdate?: string; error?: Bilingual }): string {
  const { uid, lang } = opts;
  const describedBy = opts.error ? ` aria-describedby="error"` : "";
  return layout(
    lang,
    { ko: "휴대전화 본인확인", en: "Verify with your mobile phone" },
    `${alert(opts.error, lang)}
<form method="post" action="/interaction/${encodeURIComponent(uid)}/phone" novalidate>
<label for="phone">${both({ ko: "휴대전화 번호", en: "Mobile phone number" }, lang)}</label>
<input id="phone" name="phone" type="tel" inputmode="tel" autocomplete="tel" required placeholder="010-1234-5678" value="${escapeHtml(opts.phone ?? "")}"${describedBy}>
<label for="birthdate">${both({ ko: "생년월일 (YYYY-MM-DD)", en: "Date of birth (YYYY-MM-DD)" }, lang)}</label>
<input id="birthdate" name="birthdate" type="text" inputmode="numeric" autocomplete="bday" required placeholder="1964-05-17" pattern="\\d{4}-\\d{2}-\\d{2}" value="${escapeHtml(opts.birthdate ?? "")}"${describedBy}>
<button type="submit">${both({ ko: "인증번호 받기", en: "Send me a code" }, lang)}</button>
</form>
<p class="links">${cancelLink(uid, lang)}</p>`,
  );
}

/** Step 2: the six-digit code sent to the (masked) number. */
export function codePage(opts: { uid: string; lang: Lang; maskedPhone: string; error?: Bilingual }): string {
  const { uid, lang } = opts;
  const describedBy = opts.error ? ` aria-describedby="error sent"` : ` aria-describedby="sent"`;
  return layout(
    lang,
    { ko: "인증번호 입력", en: "Enter your code" },
    `${alert(opts.error, lang)}
<p id="sent">${both(
      { ko: `${opts.maskedPhone} 번호로 6자리 인증번호를 보냈습니다. 5분 안에 입력하세요.`, en: `We sent a 6-digit code to ${opts.maskedPhone}. Enter it within 5 minutes.` },
      lang,
    )}</p>
<form method="post" action="/interaction/${encodeURIComponent(uid)}/code" novalidate>
<label for="code">${both({ ko: "인증번호 6자리", en: "6-digit code" }, lang)}</label>
<input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" required maxlength="6" pattern="\\d{6}"${describedBy}>
<button type="submit">${both({ ko: "확인", en: "Verify" }, lang)}</button>
</form>
<p class="links"><a href="/interaction/${encodeURIComponent(uid)}/restart">${both({ ko: "다른 번호로 다시 하기", en: "Start again" }, lang)}</a> ${cancelLink(uid, lang)}</p>`,
  );
}

/** A page for a dead end (an expired login, a bad request): what happened and that the service can restart it. */
export function errorPage(opts: { lang: Lang; message: Bilingual; detail?: string }): string {
  const detail = opts.detail ? `<p class="note"><code>${escapeHtml(opts.detail)}</code></p>` : "";
  return layout(
    opts.lang,
    { ko: "로그인을 계속할 수 없습니다", en: "This sign-in cannot continue" },
    `<p role="alert">${both(opts.message, opts.lang)}</p>${detail}
<p>${both({ ko: "예약 사이트로 돌아가 다시 로그인하세요.", en: "Go back to the booking site and sign in again." }, opts.lang)}</p>`,
  );
}
