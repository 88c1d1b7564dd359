import type { NoticeKind, PushLang, PushPayload } from "../../contract/push.js";

/** What each notice says, in the page's words (page/strings.js), in both of its languages. */
const TEXT: Record<PushLang, Record<NoticeKind, { title: string; body: string; withCode?: string }>> = {
  ko: {
    near: { title: "곧 차례입니다", body: "예약 대기실 화면을 열어 두세요. 차례가 되면 다시 알려 드립니다." },
    admitted: { title: "차례가 되었습니다", body: "지금 열어 접종 날짜와 시간을 고르세요." },
    booked: { title: "예약이 확정되었습니다", body: "예약 화면에서 예약을 확인하세요.", withCode: "예약 코드 {code}." },
  },
  en: {
    near: { title: "It is nearly your turn", body: "Keep the waiting room page open. We will tell you again when it is your turn." },
    admitted: { title: "It is your turn", body: "Open it now to choose a date and time for your vaccination." },
    booked: { title: "Your booking is confirmed", body: "See your booking on the booking page.", withCode: "Booking code {code}." },
  },
};

/** The notice's payload: what the service worker shows, and nothing of who the citizen is. */
export function noticePayload(cohort: string, kind: NoticeKind, lang: PushLang, code: string | null): PushPayload {
  const text = TEXT[lang][kind];
  const withCode = code !== null && text.withCode !== undefined;
  return {
    cohort,
    state: kind,
    url: "/",
    title: text.title,
    body: withCode ? text.withCode!.replace("{code}", code) : text.body,
    ...(withCode ? { code } : {}),
  };
}
