// @ts-check
/**
 * The citizen's waiting page: sign in, watch the place fall, book once admitted, and while the pass
 * lives change the booking's slot or cancel it and book again.
 *
 * The page decides nothing about the citizen's place: it only shows what GET /api/queue/status says.
 * The ticket and the pass live in HttpOnly cookies the page cannot read, so resuming after a refresh,
 * a closed tab or a network error is simply asking for the status again.
 *
 * The page never sends an identity. Joining is a plain navigation to /auth/login: the edge sends the
 * citizen to the national identity provider, verifies what comes back, joins the line of the cohort the
 * verified birth date puts them in, sets the ticket cookie and returns them to `/`. A failed sign-in
 * returns to `/?signin=<reason>`; the page reads the reason once and takes it out of the address bar, so
 * the URL it keeps (and that a bookmark, a shared link or the history holds) carries nothing.
 *
 * Types come from the one contract (src/contract); this file is plain JS so it is served as written.
 * @typedef {import("../src/contract/queue.js").QueueStatus} QueueStatus
 * @typedef {import("../src/contract/queue.js").CohortInfo} CohortInfo
 * @typedef {import("../src/contract/booking.js").Slot} Slot
 * @typedef {import("../src/contract/booking.js").Booking} Booking
 * @typedef {{ code: string, message: string, opensAt?: string, retryAfterSeconds?: number, booking?: Booking }} ApiError
 * @typedef {"ko" | "en"} Lang
 * @typedef {"cancelled" | "invalid_identity" | "not_eligible" | "cohort_not_open" | "rate_limited" | "unavailable"} SigninFailure
 */

/** Korea's 17 regions; scripts/fingerprint-page.ts writes them in from src/contract/regions.ts. */
/** @type {ReadonlyArray<{ code: string, ko: string, en: string }>} */
const REGIONS = /* REGIONS */ [];

const SEOUL = "Asia/Seoul";
/** Slots are seeded a week ahead; the page offers the same days. */
const BOOKING_DAYS = 7;
/** Backoff for failed polls: 2 s doubling to 30 s, with jitter so a recovering edge is not hit at once. */
const RETRY_MIN_MS = 2_000;
const RETRY_MAX_MS = 30_000;
/** Screen readers hear the place at most this often while it falls, and always on a change of state. */
const ANNOUNCE_EVERY_MS = 20_000;
const LANG_KEY = "wr:lang";
/** Where the sign-in starts; `lang` only chooses the language of the provider's pages. */
const LOGIN_PATH = "/auth/login";
/** Cohort ids in a returned URL: checked against /api/cohorts before anything is shown for them. */
const COHORT_ID = /^[A-Za-z0-9_-]{1,32}$/;
/** Only a line's label and a number: the ahead-count seen at joining, for the progress bar. */
const START_KEY = "wr:start:";
/** The booking made with a ticket, kept on this device only, so it can still be shown once the pass has expired. */
const BOOKING_KEY = "wr:booking:";

/** Every string, in both languages. `{name}` is filled in by `t`. */
const STRINGS = {
  ko: {
    docTitle: "코로나19 백신 사전예약 대기실",
    skip: "본문으로 건너뛰기",
    brand: "코로나19 예방접종 사전예약",
    otherLang: "English",
    title: "예약 대기실",
    loading: "대기열 정보를 확인하고 있습니다…",
    signinTitle: "본인 인증 후 대기열에 들어가기",
    signinIntro: "국가 본인 인증 기관에서 본인임을 확인하면, 나이대별 대기열에 도착한 순서대로 들어갑니다.",
    signinAge: "나이대는 본인 인증 기관에 등록된 생년월일로 정해집니다. 여기서 따로 입력하지 않습니다.",
    signinKeep: "새로고침하거나 창을 닫았다 다시 열어도 순서는 유지됩니다. 다른 기기에서 다시 본인 인증을 해도 같은 순서로 돌아옵니다.",
    signinBtn: "본인 인증하고 줄 서기",
    signinHint: "본인 인증 기관의 화면으로 이동합니다. 인증을 마치면 이 화면으로 돌아옵니다.",
    schedule: "나이대별 예약 시작 시각",
    scheduleOpen: "{label} ({from}~{to}년생): 예약 진행 중",
    scheduleLater: "{label} ({from}~{to}년생): {when} 시작",
    signinCancelled: "본인 인증이 취소되었습니다. 대기열에 들어가려면 다시 본인 인증을 해 주세요.",
    signinInvalid: "본인 인증 결과를 확인하지 못했습니다. 다시 본인 인증을 해 주세요.",
    signinNotEligible: "본인 인증 기관에 등록된 생년월일로는 예약할 수 있는 나이대가 없습니다.",
    signinRateLimited: "짧은 시간에 시도가 너무 많았습니다. 1분쯤 기다린 뒤 다시 본인 인증을 해 주세요. 이미 받은 순서는 그대로입니다.",
    signinUnavailable: "본인 인증 기관이나 대기열 서버가 잠시 응답하지 않습니다. 잠시 후 다시 시도해 주세요.",
    signinFailed: "본인 인증을 마치지 못했습니다. 다시 시도해 주세요.",
    notOpen: "{label} 예약은 {when}(한국 시간)에 시작합니다. 그때 다시 본인 인증을 하고 대기열에 들어와 주세요.",
    notOpenNoLabel: "이 나이대의 예약은 아직 시작하지 않았습니다. 아래의 나이대별 예약 시작 시각을 확인해 주세요.",
    ticketLost: "번호표가 만료되었습니다. 다시 본인 인증을 하고 대기열에 들어와 주세요.",
    rejoined: "이전 순서는 만료되어, 맨 뒤에서 새 순서를 받았습니다.",
    waitTitle: "대기 중입니다",
    pausedTitle: "입장이 잠시 멈췄습니다",
    pausedText: "운영 사정으로 입장을 잠시 멈췄습니다. 순서는 그대로 유지되며, 입장이 다시 시작되면 이 화면이 저절로 이어집니다.",
    queueOf: "{label} 대기열 · 접수 번호 {seq}",
    prequeue: "사전 대기열에 들어왔습니다. 줄은 {time}에 열립니다. 사전 대기열의 모든 사람은 추첨으로 순서가 정해집니다.",
    aheadLabel: "내 앞의 대기 인원 (추정)",
    people: "명",
    person: "명",
    progressLabel: "입장까지 진행 상황",
    progressText: "줄을 설 때 앞에 있던 {start}명 중 {done}명이 입장했습니다.",
    etaLabel: "예상 대기 시간",
    etaPaused: "입장이 다시 시작되면 계산합니다",
    keepPlace: "이 창을 새로고침하거나 닫았다 다시 열어도 순서는 유지됩니다. 차례가 되면 이 화면에서 바로 예약할 수 있습니다.",
    liveWaiting: "앞에 약 {n}명, 예상 대기 시간 {eta}.",
    liveAhead: "앞에 약 {n}명.",
    liveFront: "곧 차례입니다. 이 화면을 열어 두세요.",
    livePaused: "입장이 잠시 멈췄습니다. 순서는 유지됩니다.",
    liveAdmitted: "차례가 되었습니다. 접종 날짜와 시간을 고르세요.",
    liveExpired: "순서가 만료되었습니다. 다시 줄을 설 수 있습니다.",
    liveBooked: "예약이 확정되었습니다. 예약 번호 {id}.",
    unstable: "연결이 불안정합니다. 순서는 유지됩니다. 다시 연결하는 중…",
    bookTitle: "차례가 되었습니다",
    passUntil: "{time}까지 예약을 마쳐 주세요 (한국 시간). 지역과 날짜를 고른 뒤 시간을 선택하세요.",
    region: "지역",
    date: "날짜",
    findSlots: "예약 가능한 시간 보기",
    loadingSlots: "예약 가능한 시간을 불러오는 중…",
    slotsFound: "{region}, {date}: 예약 가능한 시간 {n}개",
    noSlots: "{region}, {date}에는 남은 시간이 없습니다. 다른 날짜나 지역을 골라 보세요.",
    seatsLeft: "{n}자리",
    full: "마감",
    bookBtn: "선택한 시간으로 예약하기",
    booking: "예약하는 중…",
    errPickSlot: "시간을 하나 골라 주세요.",
    errSlotFull: "방금 그 시간이 마감되었습니다. 다른 시간을 골라 주세요.",
    errSlotGone: "그 시간을 찾을 수 없습니다. 목록을 다시 불러왔습니다.",
    errUnavailable: "예약 서버가 잠시 응답하지 않습니다. 입장권과 순서는 그대로입니다. {s}초 뒤 다시 시도해 주세요.",
    errBookNetwork: "연결이 불안정합니다. 입장권과 순서는 그대로입니다. 다시 눌러 주세요. 예약은 한 번만 됩니다.",
    errPassLost: "입장권을 확인하지 못했습니다. 순서를 다시 확인합니다…",
    doneTitle: "예약이 확정되었습니다",
    changeBtn: "다른 시간으로 변경",
    cancelBtn: "예약 취소",
    cancelAsk: "이 예약을 취소할까요? 취소하면 자리는 다른 분께 돌아갑니다.",
    cancelYes: "예, 취소합니다",
    cancelNo: "아니요, 유지합니다",
    cancelling: "취소하는 중…",
    changeTitle: "예약 시간 변경",
    changeIntro: "지금 예약: {clinic}, {when}. 새 시간을 고르면 한 번에 옮겨지고, 옮길 수 없으면 지금 예약이 그대로 남습니다.",
    changeSubmit: "선택한 시간으로 변경하기",
    changing: "변경하는 중…",
    keepBtn: "변경하지 않기",
    current: "지금 예약",
    changed: "예약 시간이 변경되었습니다.",
    cancelled: "예약이 취소되었습니다. {time}까지(한국 시간) 다시 예약할 수 있습니다.",
    liveChanged: "예약 시간이 변경되었습니다. 예약 번호 {id}.",
    liveCancelled: "예약이 취소되었습니다. 다시 예약할 수 있습니다.",
    errBookingGone: "이 예약은 이미 취소되었습니다. 새로 예약해 주세요.",
    errActionNetwork: "연결이 불안정합니다. 다시 눌러 주세요. 같은 요청이 두 번 반영되지는 않습니다.",
    alreadyBooked: "이미 이 예약이 있습니다. 한 사람은 한 번에 한 예약만 가질 수 있습니다.",
    bookingKept: "예약은 그대로 유지됩니다. 예약 화면 이용 시간이 끝나 이 기기에 저장된 예약 내용을 보여 드립니다.",
    bookingId: "예약 번호",
    clinic: "접종 기관",
    address: "주소",
    when: "일시",
    doneNote: "예약 번호를 적어 두세요. 이 화면을 새로고침해도 예약은 그대로입니다.",
    expiredTitle: "순서가 만료되었습니다",
    expiredText: "차례가 왔지만 정해진 시간 안에 예약 화면에 들어오지 않아, 자리가 다음 분께 넘어갔습니다. 다시 본인 인증을 하고 줄을 서면 맨 뒤에서 새 순서를 받습니다.",
    rejoin: "다시 본인 인증하고 줄 서기",
    underMinute: "1분 이내",
    about: "약 {a}",
    aboutRange: "약 {a}~{b}",
    aboutRangeMin: "약 {a}~{b}분",
    min: "{m}분",
    hours: "{h}시간",
    hoursMin: "{h}시간 {m}분",
  },
  en: {
    docTitle: "COVID-19 vaccine pre-booking: waiting room",
    skip: "Skip to content",
    brand: "COVID-19 vaccine booking",
    otherLang: "한국어",
    title: "Waiting room",
    loading: "Checking the line…",
    signinTitle: "Sign in to join the line",
    signinIntro: "Prove who you are at the national identity provider, and you join the line for your age group in the order you arrive.",
    signinAge: "Your age group comes from the birth date the identity provider holds for you; you do not type it here.",
    signinKeep: "Refreshing, or closing and reopening this page, keeps your place. Signing in again on another device brings you back to the same place.",
    signinBtn: "Sign in and join the line",
    signinHint: "You will be taken to the identity provider's pages, and brought back here once you have signed in.",
    schedule: "When booking opens for each age group",
    scheduleOpen: "{label} (born {from}–{to}): open now",
    scheduleLater: "{label} (born {from}–{to}): opens {when}",
    signinCancelled: "Signing in was cancelled. To join the line, please sign in again.",
    signinInvalid: "Your identity could not be confirmed. Please sign in again.",
    signinNotEligible: "No age group can book for the birth date the identity provider holds for you.",
    signinRateLimited: "There were too many attempts just now. Please wait about a minute, then sign in again. A place you already hold is kept.",
    signinUnavailable: "The identity provider or the waiting room is briefly unavailable. Please try again shortly.",
    signinFailed: "Signing in did not complete. Please try again.",
    notOpen: "Booking for {label} opens {when} (Korea time). Please come back then, sign in and join the line.",
    notOpenNoLabel: "Booking for your age group has not opened yet. See when each age group opens, below.",
    ticketLost: "Your ticket has expired. Please sign in and join the line again.",
    rejoined: "Your earlier place lapsed, so you have a new place at the back of the line.",
    waitTitle: "You are in the line",
    pausedTitle: "Admissions are paused",
    pausedText: "Admissions are paused for a moment. Your place is kept, and this page carries on by itself when they resume.",
    queueOf: "Line for {label} · reference {seq}",
    prequeue: "You are in the pre-queue. The line opens at {time}; everyone in the pre-queue is ordered by a draw.",
    aheadLabel: "People ahead of you (estimate)",
    people: "people",
    person: "person",
    progressLabel: "Progress to the front",
    progressText: "Gone in since you joined: {done} of the {start} ahead of you then.",
    etaLabel: "Expected wait",
    etaPaused: "worked out again when admissions resume",
    keepPlace: "Refreshing, or closing and reopening this page, keeps your place. When it is your turn you can book right here.",
    liveWaiting: "People ahead: about {n}. Expected wait: {eta}.",
    liveAhead: "People ahead: about {n}.",
    liveFront: "It is nearly your turn. Keep this page open.",
    livePaused: "Admissions are paused. Your place is kept.",
    liveAdmitted: "It is your turn. Choose a date and time for your vaccination.",
    liveExpired: "Your place has lapsed. You can join the line again.",
    liveBooked: "Your booking is confirmed. Booking number {id}.",
    unstable: "The connection is unstable. Your place is kept. Reconnecting…",
    bookTitle: "It is your turn",
    passUntil: "Please finish booking by {time} (Korea time). Choose a region and a date, then a time.",
    region: "Region",
    date: "Date",
    findSlots: "Show available times",
    loadingSlots: "Loading available times…",
    slotsFound: "{region}, {date}: {n} times available",
    noSlots: "No times are left in {region} on {date}. Try another date or region.",
    seatsLeft: "{n} left",
    full: "full",
    bookBtn: "Book the selected time",
    booking: "Booking…",
    errPickSlot: "Choose a time.",
    errSlotFull: "That time has just filled up. Please choose another.",
    errSlotGone: "That time could not be found. The list has been reloaded.",
    errUnavailable: "Booking is briefly unavailable. Your pass and place are kept. Please try again in {s} seconds.",
    errBookNetwork: "The connection is unstable. Your pass and place are kept. Press the button again; you will be booked only once.",
    errPassLost: "Your pass could not be confirmed. Checking your place again…",
    doneTitle: "Your booking is confirmed",
    changeBtn: "Change slot",
    cancelBtn: "Cancel booking",
    cancelAsk: "Cancel this booking? Its seat goes back to others.",
    cancelYes: "Yes, cancel it",
    cancelNo: "No, keep it",
    cancelling: "Cancelling…",
    changeTitle: "Change your slot",
    changeIntro: "Your booking: {clinic}, {when}. Pick a new time and it moves in one step; if it cannot, your booking stays as it is.",
    changeSubmit: "Move to the selected time",
    changing: "Moving…",
    keepBtn: "Keep my booking",
    current: "your booking",
    changed: "Your booking has been moved.",
    cancelled: "Your booking is cancelled. You can book again until {time} (Korea time).",
    liveChanged: "Your booking has been moved. Booking number {id}.",
    liveCancelled: "Your booking is cancelled. You can book again.",
    errBookingGone: "This booking was already cancelled. Please book again.",
    errActionNetwork: "The connection is unstable. Press again; the same request never takes effect twice.",
    alreadyBooked: "You already hold this booking. Each person holds one booking at a time.",
    bookingKept: "Your booking stands. Your booking session has ended, so this is the booking as saved on this device.",
    bookingId: "Booking number",
    clinic: "Clinic",
    address: "Address",
    when: "Date and time",
    doneNote: "Please note your booking number. Refreshing this page keeps your booking.",
    expiredTitle: "Your place has lapsed",
    expiredText: "Your turn came, but the booking page was not opened in time, so the place went to the next person. If you sign in and join the line again, you get a new place at the back.",
    rejoin: "Sign in and join the line again",
    underMinute: "under a minute",
    about: "about {a}",
    aboutRange: "about {a}–{b}",
    aboutRangeMin: "about {a}–{b} min",
    min: "{m} min",
    hours: "{h} h",
    hoursMin: "{h} h {m} min",
  },
};

/** @typedef {keyof typeof STRINGS.ko} Key */
/** @typedef {{ key: Key, params?: Record<string, string | number> }} Message */

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** Everything the page shows is drawn from this; switching language redraws it. */
const app = {
  /** @type {Lang} */
  lang: readLang(),
  /** @type {"loading" | "signin" | "wait" | "book" | "done" | "expired"} */
  view: "loading",
  /** @type {QueueStatus | null} */
  status: null,
  /** @type {CohortInfo[]} */
  cohorts: [],
  /** @type {Message | null} shown on the sign-in view: when a cohort opens, a cancelled sign-in, why the ticket is gone */
  signinNote: null,
  /** @type {Message | null} shown on the sign-in view: why the last sign-in failed */
  signinError: null,
  /** @type {Message | null} shown while waiting: that this is a new place, the old one having lapsed */
  waitNote: null,
  /** @type {{ region: string, date: string, slots: Slot[] } | null} */
  slots: null,
  /** @type {Message | null} */
  bookError: null,
  /** @type {Booking | null} */
  booking: null,
  /** @type {Message | null} */
  doneNote: null,
  /** @type {Booking | null} the booking whose slot is being changed: the slot choice then moves it */
  changing: null,
  /** @type {Message | null} shown above the slot choice: that the booking was just cancelled */
  bookNote: null,
  /** @type {Message | null} why changing or cancelling did not go through */
  doneError: null,
  /** The citizen asked to cancel and is being asked to confirm. */
  confirmingCancel: false,
  /** @type {Message | null} */
  live: null,
  lastAnnounced: 0,
  failures: 0,
  passLosses: 0,
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  pollTimer: undefined,
};

// ---------------------------------------------------------------------------------------------------
// Language and formatting

function readLang() {
  try {
    return localStorage.getItem(LANG_KEY) === "en" ? "en" : "ko";
  } catch {
    return "ko";
  }
}

/**
 * @param {Key} key
 * @param {Record<string, string | number>} [params]
 */
function t(key, params = {}) {
  return STRINGS[app.lang][key].replace(/\{(\w+)\}/g, (_, name) => String(params[name] ?? ""));
}

/** @param {Message | null} m */
const tm = (m) => (m ? t(m.key, m.params) : "");

const locale = () => (app.lang === "ko" ? "ko-KR" : "en-US");
const number = (/** @type {number} */ n) => new Intl.NumberFormat(locale()).format(n);

/** An opening time or a deadline, in Korea time, in the reader's language. */
function when(/** @type {string} */ iso) {
  return new Intl.DateTimeFormat(locale(), {
    timeZone: SEOUL, year: "numeric", month: "long", day: "numeric", weekday: "long", hour: "numeric", minute: "2-digit",
  }).format(new Date(iso));
}
const clock = (/** @type {string} */ iso) =>
  new Intl.DateTimeFormat(locale(), { timeZone: SEOUL, hour: "numeric", minute: "2-digit" }).format(new Date(iso));
const day = (/** @type {string} */ ymd) =>
  new Intl.DateTimeFormat(locale(), { timeZone: SEOUL, month: "long", day: "numeric", weekday: "short" }).format(new Date(`${ymd}T12:00:00+09:00`));

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
function formatEta(eta) {
  if (eta.high < 60) return t("underMinute");
  const step = eta.high >= 3600 ? 5 : 1;
  const low = Math.max(1, Math.floor(Math.round(eta.low / 60) / step) * step);
  const high = Math.max(low, Math.ceil(eta.high / 60 / step) * step);
  if (low === high) return t("about", { a: duration(low) });
  if (high < 60) return t("aboutRangeMin", { a: number(low), b: number(high) });
  return t("aboutRange", { a: duration(low), b: duration(high) });
}

/** Today's date in Korea, and the days after it, as YYYY-MM-DD. */
function seoulDays(/** @type {number} */ count) {
  const today = new Date(Date.now() + 9 * 3600_000).toISOString().slice(0, 10);
  return Array.from({ length: count }, (_, i) => new Date(Date.parse(`${today}T00:00:00Z`) + i * 86_400_000).toISOString().slice(0, 10));
}

// ---------------------------------------------------------------------------------------------------
// Talking to the edge

/**
 * @param {string} path
 * @param {RequestInit} [init]
 * @returns {Promise<{ status: number, body: any, error: ApiError | null }>} rejects only on network failure
 */
async function api(path, init = {}) {
  const res = await fetch(path, { ...init, cache: "no-store", headers: { accept: "application/json", ...(init.body ? { "content-type": "application/json" } : {}) } });
  let body = null;
  try {
    body = await res.json();
  } catch {
    // A proxy's HTML error page: treated like any other failure below.
  }
  const error = !res.ok && body && typeof body.error === "object" ? body.error : null;
  if (!res.ok && !error) return { status: res.status, body: null, error: { code: "unavailable", message: "", retryAfterSeconds: Number(res.headers.get("retry-after")) || undefined } };
  return { status: res.status, body, error };
}

async function loadCohorts() {
  try {
    const { body } = await api("/api/cohorts");
    if (body && Array.isArray(body.cohorts)) app.cohorts = body.cohorts;
  } catch {
    // Only labels and the schedule come from here; the page works without them.
  }
  render();
}

function stopPolling() {
  clearTimeout(app.pollTimer);
  app.pollTimer = undefined;
}

/** @param {number} ms */
function pollIn(ms) {
  stopPolling();
  app.pollTimer = setTimeout(poll, Math.max(RETRY_MIN_MS, ms));
}

/** Asks where the ticket stands. On a failure the place is not in doubt: it lives at the edge. */
async function poll() {
  stopPolling();
  /** @type {Awaited<ReturnType<typeof api>>} */
  let answer;
  try {
    answer = await api("/api/queue/status");
  } catch {
    return retryLater();
  }
  if (answer.status === 401) {
    // No ticket (not signed in on this browser) or one that has run out: the sign-in view, and never
    // anything about a place. A word only if a place was being shown a moment ago.
    const hadPlace = app.view !== "loading" || app.status !== null;
    if (hadPlace) {
      app.status = null;
      app.signinError = null;
      app.signinNote = { key: "ticketLost" };
      announce(app.signinNote);
    }
    return showSignin(hadPlace);
  }
  if (!answer.body || answer.error) return retryLater(answer.error?.retryAfterSeconds);
  app.failures = 0;
  showNotice(null);
  applyStatus(answer.body);
}

/** @param {number} [retryAfterSeconds] */
function retryLater(retryAfterSeconds) {
  app.failures += 1;
  showNotice({ key: "unstable" });
  const backoff = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** (app.failures - 1)) * (0.75 + Math.random() * 0.5);
  pollIn(Math.max(backoff, (retryAfterSeconds ?? 0) * 1000));
}

/** @param {QueueStatus} s */
function applyStatus(s) {
  app.status = s;
  if (s.state === "waiting" || s.state === "paused" || s.state === "prequeue") {
    const before = app.view;
    rememberStart(s);
    app.view = "wait";
    announceWait(s, before !== "wait");
    render(before !== "wait" ? "wait-title" : undefined);
    pollIn(s.nextPollMs);
  } else if (s.state === "admitted") {
    if (app.view !== "book" && app.view !== "done") void admitted();
  } else {
    // A citizen who booked and comes back after the pass expired still has the booking: show it, not a lapse.
    const kept = keptBooking(s);
    if (kept) return showBooking(kept, { key: "bookingKept" });
    app.view = "expired";
    forgetStart();
    announce({ key: "liveExpired" });
    render("expired-title");
  }
}

/** @param {Booking} booking */
function keepBooking(booking) {
  const s = app.status;
  if (!s) return;
  try {
    localStorage.setItem(`${BOOKING_KEY}${s.cohort}:${s.seq}`, JSON.stringify(booking));
  } catch {
    // Private mode: nothing is kept, and an expired pass then shows the lapse text.
  }
}

/** The booking is no longer the citizen's (cancelled): an expired pass must not show it as kept. */
function forgetBooking() {
  const s = app.status;
  if (!s) return;
  try {
    localStorage.removeItem(`${BOOKING_KEY}${s.cohort}:${s.seq}`);
  } catch {
    // Nothing was kept.
  }
}

/** Whether the pass can still act at the origin: only then are changing and cancelling offered. */
function passLive() {
  const s = app.status;
  return s?.state === "admitted" && (!s.passExpiresAt || Date.parse(s.passExpiresAt) > Date.now());
}

/** @param {QueueStatus} s @returns {Booking | null} */
function keptBooking(s) {
  try {
    const text = localStorage.getItem(`${BOOKING_KEY}${s.cohort}:${s.seq}`);
    if (!text) return null;
    const booking = /** @type {Booking} */ (JSON.parse(text));
    return booking && typeof booking.id === "string" && booking.status === "booked" ? booking : null;
  } catch {
    return null;
  }
}

/** The ahead-count at joining, kept so the progress bar runs from there to the front across reloads. */
function rememberStart(/** @type {QueueStatus} */ s) {
  const key = `${START_KEY}${s.cohort}:${s.seq}`;
  try {
    const stored = Number(localStorage.getItem(key));
    if (!(stored >= s.ahead)) {
      forgetStart();
      localStorage.setItem(key, String(s.ahead));
    }
  } catch {
    // Private mode: the bar then starts from the first count this page saw.
  }
}

function startAhead(/** @type {QueueStatus} */ s) {
  try {
    const stored = Number(localStorage.getItem(`${START_KEY}${s.cohort}:${s.seq}`));
    if (stored >= s.ahead) return stored;
  } catch {
    // fall through
  }
  return s.ahead;
}

function forgetStart() {
  try {
    for (const key of Object.keys(localStorage)) if (key.startsWith(START_KEY)) localStorage.removeItem(key);
  } catch {
    // nothing stored
  }
}

/**
 * @param {QueueStatus} s
 * @param {boolean} changed the state changed, so it is said at once
 */
function announceWait(s, changed) {
  const now = Date.now();
  const soon = s.ahead <= 10;
  if (!changed && !soon && now - app.lastAnnounced < ANNOUNCE_EVERY_MS) return;
  if (s.state === "paused") announce({ key: "livePaused" });
  else if (s.state === "prequeue") announce({ key: "prequeue", params: { time: clock(s.opensAt ?? "") } });
  else if (s.ahead === 0) announce({ key: "liveFront" });
  else if (s.etaSeconds) announce({ key: "liveWaiting", params: { n: s.ahead, etaLow: s.etaSeconds.low, etaHigh: s.etaSeconds.high } });
  else announce({ key: "liveAhead", params: { n: s.ahead } });
}

/** @param {Message} m */
function announce(m) {
  app.live = m;
  app.lastAnnounced = Date.now();
}

/** The citizen's turn: a booking already made is shown as such, otherwise the slot choice. */
async function admitted() {
  stopPolling();
  forgetStart();
  app.view = "book";
  app.changing = null;
  /** @type {Awaited<ReturnType<typeof api>>} */
  let mine;
  try {
    mine = await api("/api/bookings/me");
  } catch {
    mine = { status: 0, body: null, error: null };
  }
  if (mine.status === 200 && mine.body?.booking?.status === "booked") return showBooking(mine.body.booking, null);
  if (mine.status === 401) return passLost();
  announce({ key: "liveAdmitted" });
  render("book-title");
}

/**
 * The pass cookie is missing or has run out: the status answer says which, and re-sets a live one.
 * Backs off like a failed poll, so a browser that refuses the cookie does not spin.
 */
function passLost() {
  app.view = "loading";
  app.passLosses += 1;
  showNotice({ key: "errPassLost" });
  render();
  pollIn(Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** (app.passLosses - 1)));
}

async function findSlots(/** @type {string} */ region, /** @type {string} */ date) {
  app.bookError = null;
  $("slots-msg").textContent = t("loadingSlots");
  /** @type {Awaited<ReturnType<typeof api>>} */
  let answer;
  try {
    answer = await api(`/api/slots?region=${encodeURIComponent(region)}&date=${encodeURIComponent(date)}`);
  } catch {
    app.bookError = { key: "errBookNetwork" };
    return render();
  }
  if (answer.status === 401) return passLost();
  if (answer.error) {
    app.bookError = { key: "errUnavailable", params: { s: answer.error.retryAfterSeconds ?? 3 } };
    return render();
  }
  const now = Date.now();
  app.slots = { region, date, slots: answer.body.slots.filter((/** @type {Slot} */ s) => Date.parse(s.startsAt) > now) };
  // #slots-msg is itself a polite live region, so the count is heard where it is shown.
  render();
}

async function book(/** @type {number} */ slotId) {
  app.bookError = null;
  setBusy("book-btn", "booking");
  /** @type {Awaited<ReturnType<typeof api>>} */
  let answer;
  try {
    answer = await api("/api/bookings", { method: "POST", body: JSON.stringify({ slotId }) });
  } catch {
    app.bookError = { key: "errBookNetwork" };
    return render();
  } finally {
    setBusy("book-btn", null);
  }
  if (answer.status === 200 || answer.status === 201) return showBooking(answer.body.booking, null);
  const error = answer.error;
  if (error?.code === "already_booked" && error.booking) return showBooking(error.booking, { key: "alreadyBooked" });
  if (answer.status === 401) return passLost();
  if (error?.code === "slot_full" || answer.status === 404) {
    app.bookError = { key: error?.code === "slot_full" ? "errSlotFull" : "errSlotGone" };
    if (app.slots) return findSlots(app.slots.region, app.slots.date);
    return render();
  }
  app.bookError = { key: "errUnavailable", params: { s: error?.retryAfterSeconds ?? 3 } };
  render();
}

/**
 * Moves the citizen's live booking to `slotId` (PATCH): in one step at the origin, so on any failure the
 * booking stays where it was, and asking again after a lost answer cannot move it twice.
 */
async function changeSlot(/** @type {number} */ slotId) {
  const booking = app.changing;
  if (!booking) return;
  app.bookError = null;
  setBusy("book-btn", "changing");
  /** @type {Awaited<ReturnType<typeof api>>} */
  let answer;
  try {
    answer = await api(`/api/bookings/${encodeURIComponent(booking.id)}`, { method: "PATCH", body: JSON.stringify({ slotId }) });
  } catch {
    app.bookError = { key: "errActionNetwork" };
    return render();
  } finally {
    setBusy("book-btn", null);
  }
  if (answer.status === 200) return showBooking(answer.body.booking, { key: "changed" }, "liveChanged");
  if (answer.status === 401) return passLost();
  const code = answer.error?.code;
  // Cancelled meanwhile (on another device, say): there is nothing to move, and the citizen may book afresh.
  if (code === "booking_cancelled" || code === "booking_not_found") return bookingGone({ key: "errBookingGone" });
  if (code === "slot_full" || code === "not_found") {
    app.bookError = { key: code === "slot_full" ? "errSlotFull" : "errSlotGone" };
    if (app.slots) return findSlots(app.slots.region, app.slots.date);
    return render();
  }
  app.bookError = { key: "errUnavailable", params: { s: answer.error?.retryAfterSeconds ?? 3 } };
  render();
}

/** Cancels the citizen's booking (DELETE); the same pass may then book again while it lives. */
async function cancelMine() {
  const booking = app.booking;
  if (!booking) return;
  app.doneError = null;
  setBusy("cancel-yes", "cancelling");
  /** @type {Awaited<ReturnType<typeof api>>} */
  let answer;
  try {
    answer = await api(`/api/bookings/${encodeURIComponent(booking.id)}`, { method: "DELETE" });
  } catch {
    app.doneError = { key: "errActionNetwork" };
    return render();
  } finally {
    setBusy("cancel-yes", null);
  }
  if (answer.status === 200) return bookingGone({ key: "cancelled", params: { until: app.status?.passExpiresAt ?? "" } });
  if (answer.status === 401) return passLost();
  app.doneError = { key: "errUnavailable", params: { s: answer.error?.retryAfterSeconds ?? 3 } };
  render();
}

/** The booking is cancelled: back to the slot choice, to book again with the same pass. */
function bookingGone(/** @type {Message} */ note) {
  forgetBooking();
  app.booking = null;
  app.changing = null;
  app.confirmingCancel = false;
  app.slots = null;
  app.bookError = null;
  app.bookNote = note;
  app.view = "book";
  announce({ key: "liveCancelled" });
  render("book-title");
}

/**
 * @param {Booking} booking
 * @param {Message | null} note
 * @param {Key} [said] what the live region says
 */
function showBooking(booking, note, said = "liveBooked") {
  app.booking = booking;
  keepBooking(booking);
  app.doneNote = note;
  app.changing = null;
  app.bookNote = null;
  app.doneError = null;
  app.confirmingCancel = false;
  app.view = "done";
  announce({ key: said, params: { id: booking.id } });
  render("done-title");
}

// ---------------------------------------------------------------------------------------------------
// Drawing

/** @param {Message | null} m */
function showNotice(m) {
  const el = $("notice");
  el.hidden = !m;
  el.textContent = tm(m);
  el.dataset.key = m ? m.key : "";
}

/** @param {boolean} [focus] move focus to the view's heading (not on a plain first load: nothing has changed yet) */
function showSignin(focus = true) {
  stopPolling();
  app.view = "signin";
  render(focus ? "signin-title" : "");
}

/**
 * @param {string} id
 * @param {Key | null} busyKey
 */
function setBusy(id, busyKey) {
  const button = /** @type {HTMLButtonElement} */ ($(id));
  button.disabled = busyKey !== null;
  button.setAttribute("aria-busy", String(busyKey !== null));
  button.textContent = busyKey ? t(busyKey) : t(/** @type {Key} */ (button.dataset.t));
}

/**
 * @param {string} tag
 * @param {Record<string, string>} [attrs]
 * @param {Array<Node | string>} children
 */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  el.append(...children);
  return el;
}

const cohortLabel = (/** @type {string} */ id) => app.cohorts.find((c) => c.id === id)?.label[app.lang] ?? id;
const regionName = (/** @type {string} */ code) => REGIONS.find((r) => r.code === code)?.[app.lang] ?? code;

/**
 * A message's parameters that need the current language (cohorts, times, regions, dates).
 * @param {Message | null} m
 * @returns {Message | null}
 */
function localized(m) {
  if (!m?.params) return m;
  const p = { ...m.params };
  if (m.key === "notOpen") {
    // The returned URL names only the cohort; its label and opening time are what /api/cohorts says.
    const cohort = app.cohorts.find((c) => c.id === p.cohort);
    if (!cohort) return { key: "notOpenNoLabel" };
    p.opensAt = cohort.opensAt;
  }
  if (p.cohort !== undefined) p.label = cohortLabel(String(p.cohort));
  if (p.until) p.time = clock(String(p.until));
  if (p.opensAt !== undefined) p.when = when(String(p.opensAt));
  if (m.key === "slotsFound" || m.key === "noSlots") {
    p.region = regionName(String(p.region));
    p.date = day(String(p.date));
  }
  if (typeof p.n === "number") p.n = number(p.n);
  if (typeof p.etaLow === "number" && typeof p.etaHigh === "number") p.eta = formatEta({ low: p.etaLow, high: p.etaHigh });
  return { key: m.key, params: p };
}

/**
 * @param {HTMLElement} el
 * @param {Message | null} m
 */
function message(el, m) {
  el.hidden = !m;
  el.textContent = tm(localized(m));
}

/** Redraws everything from `app`; `focus` names a heading to move focus to after a change of view. */
function render(/** @type {string} */ focus = "") {
  const root = document.documentElement;
  root.lang = app.lang;
  document.title = t("docTitle");
  for (const el of document.querySelectorAll("[data-t]")) {
    if (el.getAttribute("aria-busy") !== "true") el.textContent = t(/** @type {Key} */ (/** @type {HTMLElement} */ (el).dataset.t));
  }
  const langButton = $("lang");
  langButton.textContent = t("otherLang");
  langButton.lang = app.lang === "ko" ? "en" : "ko";

  for (const name of ["loading", "signin", "wait", "book", "done", "expired"]) $(`view-${name}`).hidden = app.view !== name;
  const live = $("live");
  const liveText = tm(localized(app.live));
  if (live.textContent !== liveText) live.textContent = liveText;
  if ($("notice").dataset.key) showNotice({ key: /** @type {Key} */ ($("notice").dataset.key) });

  drawSignin();
  if (app.status && app.view === "wait") drawWait(app.status);
  if (app.view === "book") drawBook();
  if (app.view === "done" && app.booking) drawDone(app.booking);
  if (focus) $(focus).focus();
}

function drawSignin() {
  message($("signin-note"), app.signinNote);
  message($("signin-error"), app.signinError);
  // The provider's pages follow the language chosen here; the page itself keeps the choice in storage.
  for (const id of ["signin", "rejoin"]) $(id).setAttribute("href", `${LOGIN_PATH}?lang=${app.lang}`);
  const list = $("schedule");
  list.replaceChildren(
    ...app.cohorts.map((c) => h("li", {}, t(c.open ? "scheduleOpen" : "scheduleLater", { label: c.label[app.lang], from: c.birthYears[0], to: c.birthYears[1], when: when(c.opensAt) }))),
  );
  /** @type {HTMLElement} */ (list.parentElement).hidden = app.cohorts.length === 0;
}

function drawWait(/** @type {QueueStatus} */ s) {
  const paused = s.state === "paused";
  $("wait-title").textContent = t(paused ? "pausedTitle" : "waitTitle");
  $("paused-text").hidden = !paused;
  message($("wait-note"), app.waitNote);
  $("wait-queue").textContent =
    s.state === "prequeue" ? t("prequeue", { time: clock(s.opensAt ?? "") }) : t("queueOf", { label: cohortLabel(s.cohort), seq: number(s.seq ?? 0) });
  // In the pre-queue nobody has a place yet: no count ahead, progress or estimate to show.
  for (const el of $("view-wait").querySelectorAll(".figure, progress, label[for=progress], #progress-text")) {
    /** @type {HTMLElement} */ (el).hidden = s.state === "prequeue";
  }
  $("ahead").textContent = number(s.ahead);
  $("ahead-unit").textContent = t(s.ahead === 1 ? "person" : "people");
  const start = startAhead(s);
  const progress = /** @type {HTMLProgressElement} */ ($("progress"));
  progress.max = Math.max(1, start);
  progress.value = start === 0 ? 1 : start - s.ahead;
  $("progress-text").textContent = start > 0 ? t("progressText", { start: number(start), done: number(start - s.ahead) }) : "";
  $("eta").textContent = paused || !s.etaSeconds ? t("etaPaused") : formatEta(s.etaSeconds);
}

function drawBook() {
  const s = app.status;
  const changing = app.changing;
  $("book-title").textContent = t(changing ? "changeTitle" : "bookTitle");
  const submit = $("book-btn");
  submit.dataset.t = changing ? "changeSubmit" : "bookBtn";
  if (submit.getAttribute("aria-busy") !== "true") submit.textContent = t(/** @type {Key} */ (submit.dataset.t));
  $("keep-btn").hidden = !changing;
  const intro = $("change-intro");
  intro.hidden = !changing;
  intro.textContent = changing ? t("changeIntro", { clinic: changing.slot.clinic.name, when: slotTime(changing.slot.startsAt) }) : "";
  message($("book-note"), changing ? null : app.bookNote);
  $("pass-until").textContent = s?.passExpiresAt ? t("passUntil", { time: clock(s.passExpiresAt) }) : "";
  fillSelect(/** @type {HTMLSelectElement} */ ($("region")), REGIONS.map((r) => [r.code, r[app.lang]]));
  fillSelect(/** @type {HTMLSelectElement} */ ($("date")), seoulDays(BOOKING_DAYS).map((d) => [d, day(d)]));
  const found = app.slots;
  $("slots-msg").textContent = found
    ? tm(localized(found.slots.some((x) => x.remaining > 0) ? { key: "slotsFound", params: { region: found.region, date: found.date, n: found.slots.filter((x) => x.remaining > 0).length } } : { key: "noSlots", params: { region: found.region, date: found.date } }))
    : "";
  const form = $("book-form");
  form.hidden = !found || found.slots.length === 0;
  message($("book-error"), app.bookError);
  if (!found) return;
  const checked = /** @type {HTMLInputElement | null} */ (form.querySelector("input[name=slot]:checked"))?.value;
  /** @type {Map<number, Slot[]>} */
  const byClinic = new Map();
  for (const slot of found.slots) byClinic.set(slot.clinic.id, [...(byClinic.get(slot.clinic.id) ?? []), slot]);
  $("slot-list").replaceChildren(
    ...[...byClinic.values()].map((slots) => {
      const clinic = /** @type {Slot} */ (slots[0]).clinic;
      return h(
        "fieldset",
        { class: "clinic" },
        h("legend", {}, h("strong", {}, clinic.name), h("span", { class: "muted" }, clinic.address)),
        h(
          "div",
          { class: "times" },
          ...slots.map((slot) => {
            const input = /** @type {HTMLInputElement} */ (h("input", { type: "radio", name: "slot", value: String(slot.id) }));
            // The slot the booking already has is shown, but is no choice when changing.
            const current = slot.id === changing?.slot.id;
            input.disabled = slot.remaining === 0 || current;
            input.checked = String(slot.id) === checked && !input.disabled;
            const seats = current ? t("current") : slot.remaining === 0 ? t("full") : t("seatsLeft", { n: number(slot.remaining) });
            return h("label", { class: current ? "time current" : "time" }, input, h("span", {}, clock(slot.startsAt), h("small", {}, seats)));
          }),
        ),
      );
    }),
  );
}

/**
 * Replaces a select's options, keeping the choice.
 * @param {HTMLSelectElement} select
 * @param {Array<[string, string]>} options
 */
function fillSelect(select, options) {
  const value = select.value;
  select.replaceChildren(...options.map(([v, label]) => h("option", { value: v }, label)));
  if (options.some(([v]) => v === value)) select.value = value;
}

/** A slot's day and time, in Korea time. */
const slotTime = (/** @type {string} */ iso) => `${day(new Date(Date.parse(iso) + 9 * 3600_000).toISOString().slice(0, 10))} ${clock(iso)}`;

function drawDone(/** @type {Booking} */ b) {
  message($("done-note"), app.doneNote);
  $("booking-id").textContent = b.id;
  $("done-clinic").textContent = b.slot.clinic.name;
  $("done-address").textContent = b.slot.clinic.address;
  $("done-time").textContent = slotTime(b.slot.startsAt);
  // A booking shown from this device after the pass expired can no longer be changed from here.
  const live = passLive() && b.status === "booked";
  $("done-actions").hidden = !live || app.confirmingCancel;
  $("cancel-confirm").hidden = !live || !app.confirmingCancel;
  message($("done-error"), app.doneError);
}

// ---------------------------------------------------------------------------------------------------
// Wiring

$("slot-form").addEventListener("submit", (event) => {
  event.preventDefault();
  app.slots = null;
  void findSlots(/** @type {HTMLSelectElement} */ ($("region")).value, /** @type {HTMLSelectElement} */ ($("date")).value);
});

$("book-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const picked = /** @type {HTMLInputElement | null} */ ($("book-form").querySelector("input[name=slot]:checked"));
  if (!picked) {
    app.bookError = { key: "errPickSlot" };
    return render();
  }
  void (app.changing ? changeSlot(Number(picked.value)) : book(Number(picked.value)));
});

$("change-btn").addEventListener("click", () => {
  if (!app.booking) return;
  app.changing = app.booking;
  app.bookError = null;
  app.view = "book";
  render("book-title");
});

$("keep-btn").addEventListener("click", () => app.booking && showBooking(app.booking, null));

$("cancel-btn").addEventListener("click", () => {
  app.confirmingCancel = true;
  app.doneError = null;
  render();
  $("cancel-no").focus();
});

$("cancel-no").addEventListener("click", () => {
  app.confirmingCancel = false;
  render();
  $("cancel-btn").focus();
});

$("cancel-yes").addEventListener("click", () => void cancelMine());

$("lang").addEventListener("click", () => {
  app.lang = app.lang === "ko" ? "en" : "ko";
  try {
    localStorage.setItem(LANG_KEY, app.lang);
  } catch {
    // The choice then lasts for this page only.
  }
  render();
});

// Back online or back to the tab: ask now rather than wait out a long interval or a backoff.
const waiting = () => app.view === "wait" || app.failures > 0;
window.addEventListener("online", () => waiting() && void poll());
document.addEventListener("visibilitychange", () => document.visibilityState === "visible" && waiting() && void poll());

/**
 * What the edge said on the way back from the provider, read once: `/?signin=<reason>[&cohort=<id>]`.
 * The values are matched against known words and cohorts, never shown as given.
 * @returns {{ reason: SigninFailure | "rejoined" | "other", cohort: string | null } | null}
 */
function takeSigninResult() {
  const query = new URLSearchParams(location.search);
  const reason = query.get("signin");
  if (location.search || location.hash) {
    // Whatever came with the return (today only the reason; never a code, a token or an identity, but
    // the page does not rely on that) leaves the address bar, the history entry and any bookmark.
    history.replaceState(null, "", location.pathname);
  }
  if (reason === null) return null;
  const cohort = query.get("cohort");
  const known = ["cancelled", "invalid_identity", "not_eligible", "cohort_not_open", "rate_limited", "unavailable", "rejoined"];
  return {
    reason: known.includes(reason) ? /** @type {SigninFailure | "rejoined"} */ (reason) : "other",
    cohort: cohort && COHORT_ID.test(cohort) ? cohort : null,
  };
}

/** @type {Record<SigninFailure | "other", { note?: Key, error?: Key }>} */
const SIGNIN_MESSAGES = {
  cancelled: { note: "signinCancelled" },
  invalid_identity: { error: "signinInvalid" },
  not_eligible: { error: "signinNotEligible" },
  cohort_not_open: { note: "notOpen" },
  rate_limited: { error: "signinRateLimited" },
  unavailable: { error: "signinUnavailable" },
  other: { error: "signinFailed" },
};

async function start() {
  const returned = takeSigninResult();
  render();
  const cohorts = loadCohorts();
  if (returned?.reason === "rejoined") {
    // A sign-in that found the earlier place lapsed: the status shows the new place, this says why it is at the back.
    app.waitNote = { key: "rejoined" };
  } else if (returned) {
    const { note, error } = SIGNIN_MESSAGES[returned.reason];
    if (note) app.signinNote = { key: note, params: returned.cohort ? { cohort: returned.cohort } : {} };
    if (error) app.signinError = { key: error };
    // The cohort's label and opening time come from /api/cohorts: wait for it, so the message is said once and whole.
    if (returned.cohort) await cohorts;
  }
  await poll();
  // Said once the view is known: a citizen who already holds a place (signed in on another tab) sees it, not the failure.
  const said = app.view === "signin" ? app.signinError ?? app.signinNote : app.view === "wait" ? app.waitNote : null;
  if (returned && said) {
    announce(said);
    render(app.view === "signin" ? "signin-title" : "");
  }
}

void start();
