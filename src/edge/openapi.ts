import { z } from "zod";
import { booking, bookingChange, bookingRequest, bookingResponse, slot, slotDate, slotDatesQuery, slotDatesResponse, slotsQuery, slotsResponse } from "../contract/booking.js";
import { openApiDocument, type OpenApiDocument, type OperationSpec, type ResponseSpec } from "../contract/openapi.js";
import { cohortHistory, historyQuery, opsQueue } from "../contract/ops.js";
import { PASS_COOKIE, passJwks } from "../contract/pass.js";
import { BOOKING_ACCESS_COOKIE, BOOKING_ACCESS_SCOPE, BOOKING_ACCESS_TTL_SECONDS, BOOKING_ACCESS_TYP } from "../contract/booking-access.js";
import { cohortInfo, cohortsResponse, drawInfo, joinRequest, joinResponse, leaveResponse, queueStatus } from "../contract/queue.js";
import { pushKeyResponse, pushReceivedRequest, pushSubscriptionRequest } from "../contract/push.js";
import { loginQuery } from "../contract/sign-in.js";
import { ACCESS_HEADER, LOGIN_PATH, OPERATOR_COOKIE } from "./operators/operator-auth.js";
import { HISTORY_MINUTES } from "./shard/history.js";
import { TICKET_COOKIE, TICKET_HINT_COOKIE } from "./tokens/ticket.js";

/**
 * The edge's API as OpenAPI 3.1: the table of what it serves, with the contract's schemas for every body.
 * Served at /api/openapi.json and rendered at /api/docs (src/edge/routes/api-docs.ts);
 * test/edge/openapi.test.ts holds it to the app's routing table and to real answers, so a route added,
 * removed or answering a new field without a line here fails the tests.
 */

const SEE_RETRY_AFTER = { "retry-after": "Seconds to wait before asking again." };
const SETS_TICKET = {
  "set-cookie": `${TICKET_COOKIE}: the ticket (HttpOnly, path /api); ${TICKET_HINT_COOKIE}=1 beside it, for the page's script to know a ticket was given (it carries nothing else); ${PASS_COOKIE} too once admitted.`,
};

/** Who calls what: a ticket for one's place, a pass for the booking API, an operator credential for /api/ops. */
const TICKET = ["ticketCookie", "ticketBearer"] as const;
const PASS = ["passCookie", "passBearer"] as const;
/** A booking already made is reached with a pass or, once the pass has expired, with booking access. */
const PASS_OR_ACCESS = [...PASS, "bookingAccessCookie", "bookingAccessBearer"] as const;
const OPERATOR = ["operatorSession", "cloudflareAccess"] as const;

// Answers several operations give alike, for the same reason.
const NOT_ELIGIBLE: ResponseSpec = { description: "No cohort takes this birth date", errors: ["not_eligible"] };
const NOT_OPEN_YET_OR_GIVEN_UP: ResponseSpec = {
  description:
    "The cohort (or its pre-queue) has not opened (`opensAt` and `cohort` say when and which), or the citizen gave up their pre-queue ticket and may join again once the line opens (`opensAt`)",
  errors: ["cohort_not_open", "place_given_up"],
};
const JOIN_LIMITED: ResponseSpec = { description: "Too many joins for this citizen, or failed sign-ins from this address", errors: ["rate_limited"], headers: SEE_RETRY_AFTER };
const JOIN_UNAVAILABLE: ResponseSpec = { description: "The identity provider or the queue is briefly unreachable; the place is kept", errors: ["unavailable"], headers: SEE_RETRY_AFTER };
const PASS_REFUSED: ResponseSpec = {
  description: "No pass, or one that is not valid or has expired",
  errors: ["invalid_token"],
  headers: { "www-authenticate": '`Bearer` when no pass came, `Bearer error="invalid_token"` when one was refused.' },
};
const ORIGIN_UNAVAILABLE: ResponseSpec = { description: "The booking origin is briefly unavailable; pass and place are kept", errors: ["unavailable"], headers: SEE_RETRY_AFTER };
const PASS_LIMITED: ResponseSpec = {
  description: "Too many requests with this pass (over 30 in 10 s, far past a person's pace); pass and place are kept",
  errors: ["rate_limited"],
  headers: SEE_RETRY_AFTER,
};
const NOT_OPERATOR: ResponseSpec = { description: "Not an operator", errors: ["operator_required"] };
const NOT_OPERATOR_PAGE: ResponseSpec = { description: "Not an operator: a short page saying how to sign in.", media: "text/html" };
const ACCESS_UNAVAILABLE: ResponseSpec = { description: "Cloudflare Access's keys (or, for the API, a shard) briefly unreachable", errors: ["unavailable"], headers: SEE_RETRY_AFTER };

/** The two ways to start signing in (to join the line, or to reach a booking) take and answer the same. */
const STARTS_SIGN_IN: Pick<OperationSpec, "parameters" | "responses"> = {
  parameters: [{ name: "lang", in: "query", description: "The provider's page language.", schema: loginQuery.shape.lang.unwrap() }],
  responses: {
    302: { description: "To the identity provider.", headers: { location: "The provider's authorization URL.", "set-cookie": "The sign-in's state, for the callback only." } },
    303: { description: "A browser, when the provider cannot be reached: back to the page with `?signin=unavailable`.", headers: { location: "The page." } },
    400: { description: "`lang` is not ko or en", errors: ["invalid_request"] },
    503: { description: "The identity provider cannot be reached", errors: ["unavailable"], headers: SEE_RETRY_AFTER },
  },
};

/**
 * A route of the booking API: the gate asks every request for a pass and counts it against the pass's
 * limit, and an origin in trouble is a 503. (The origin itself answers 401 to anything without a pass.)
 */
const throughTheGate = (op: Omit<OperationSpec, "tag" | "security">, security: readonly string[] = PASS_OR_ACCESS): OperationSpec => ({
  ...op,
  tag: "Booking",
  security,
  responses: { 401: PASS_REFUSED, 429: PASS_LIMITED, 503: ORIGIN_UNAVAILABLE, ...op.responses },
});

/** A route of the operators' API: the operator check runs first, and may find Access's keys out of reach. */
const operatorsOnly = (op: Omit<OperationSpec, "tag" | "security">): OperationSpec => ({
  ...op,
  tag: "Operators",
  security: OPERATOR,
  responses: { 401: NOT_OPERATOR, 503: ACCESS_UNAVAILABLE, ...op.responses },
});

const PUSH_OFF: ResponseSpec = { description: "Notifications are not offered here (no VAPID keys configured)", errors: ["push_unavailable"] };
/** What the ticket's notification routes refuse, beside their body's checks. */
const TICKET_PUSH_REFUSALS: Record<number, ResponseSpec> = {
  401: { description: "No ticket, or one the edge did not issue, that has expired or whose place has ended", errors: ["invalid_ticket"], headers: { "www-authenticate": '`Bearer error="invalid_token"`.' } },
  404: PUSH_OFF,
  409: { description: "A pre-queue ticket before the draw gave it a place: `opensAt` says when to ask", errors: ["cohort_not_open"] },
  429: { description: "Too many requests for this ticket (it shares the status polls' limit)", errors: ["rate_limited"], headers: SEE_RETRY_AFTER },
  503: { description: "The queue is briefly busy", errors: ["unavailable"], headers: SEE_RETRY_AFTER },
};

const cohortId = { name: "id", in: "path", description: "A cohort's id, as `GET /api/cohorts` lists them.", schema: z.string(), example: "55-59" } as const;
const bookingId = { name: "id", in: "path", description: "The booking's id, as the booking answer gives it.", schema: booking.shape.id } as const;

const operations: OperationSpec[] = [
  {
    method: "post",
    path: "/api/queue/join",
    operationId: "joinQueue",
    tag: "Queue",
    summary: "Join the line of one's cohort",
    description:
      "The citizen proves who they are with the id_token their identity provider issued (in the body: nothing a client types is trusted); the cohort comes from its verified `birthdate`. Joining again returns the same ticket and place. Sets the ticket cookie; apps keep `ticket` and send it as a Bearer token.",
    requestBody: { description: "The identity provider's id_token.", schema: joinRequest },
    responses: {
      200: { description: "The ticket and where it stands.", body: joinResponse, headers: SETS_TICKET },
      401: { description: "The id_token is not valid here", errors: ["invalid_identity"] },
      403: NOT_ELIGIBLE,
      409: NOT_OPEN_YET_OR_GIVEN_UP,
      429: JOIN_LIMITED,
      503: JOIN_UNAVAILABLE,
    },
  },
  {
    method: "get",
    path: "/api/queue/status",
    operationId: "queueStatus",
    tag: "Queue",
    summary: "Where one stands in the line",
    description:
      "Answered from the ticket and a cached snapshot of its shard. Poll again after `nextPollMs`. Once admitted the answer carries the pass (and sets the pass cookie), for the booking API.",
    security: TICKET,
    responses: {
      200: { description: "The ticket's state, place and wait estimate.", body: queueStatus, headers: { "set-cookie": `${PASS_COOKIE}, once admitted (HttpOnly, path /api).` } },
      401: { description: "No ticket, or one the edge did not issue or that has expired", errors: ["invalid_ticket"], headers: { "www-authenticate": '`Bearer error="invalid_token"`.' } },
      429: { description: "Too many polls for this ticket", errors: ["rate_limited"], headers: SEE_RETRY_AFTER },
      503: { description: "The queue is briefly busy; the place is kept", errors: ["unavailable"], headers: SEE_RETRY_AFTER },
    },
  },
  {
    method: "delete",
    path: "/api/queue/ticket",
    operationId: "leaveQueue",
    tag: "Queue",
    summary: "Give up one's place for good",
    description:
      "The place is never admitted and everyone behind moves up. Leaving twice is leaving once. Clears the ticket cookie: an app discards its ticket (a status asked with it says `left` once its shard's line is near it). Joining again later is a new place at the back; in a pre-queue, not before the line opens (no second draw).",
    security: TICKET,
    responses: {
      200: { description: "The place is given up.", body: leaveResponse, headers: { "set-cookie": `${TICKET_COOKIE} and ${TICKET_HINT_COOKIE}, cleared.` } },
      401: { description: "No ticket, or one the edge did not issue or that has expired", errors: ["invalid_ticket"], headers: { "www-authenticate": '`Bearer error="invalid_token"`.' } },
      409: { description: "The turn came and the pass was issued: there is no place left to give up", errors: ["ticket_admitted"] },
      429: { description: "Too many requests for this ticket", errors: ["rate_limited"], headers: SEE_RETRY_AFTER },
      503: { description: "The queue is briefly busy; nothing changed, retry", errors: ["unavailable"], headers: SEE_RETRY_AFTER },
    },
  },
  {
    method: "get",
    path: "/api/push/key",
    operationId: "pushKey",
    tag: "Notifications",
    summary: "The application server key for PushManager.subscribe",
    responses: {
      200: { description: "The VAPID public key: base64url of the uncompressed P-256 point, as `applicationServerKey` takes it.", body: pushKeyResponse },
      404: PUSH_OFF,
    },
  },
  {
    method: "put",
    path: "/api/queue/push-subscription",
    operationId: "subscribePush",
    tag: "Notifications",
    summary: "Ask for notices about one's ticket",
    description:
      "Stores the browser's push subscription with the ticket (never with the citizen): a notice when the ticket is about a minute of admissions from the front (`near`), when it is admitted (`admitted`), and when its booking is made (`booked`, with the booking's code). The payload the service worker decrypts is `{cohort, state, url, title, body, code?}` in `lang`. Putting again replaces the subscription; notices already sent are not sent again. The subscription ends with the ticket.",
    security: TICKET,
    requestBody: { description: "PushSubscription.toJSON() and the language of the notices.", schema: pushSubscriptionRequest },
    responses: {
      204: { description: "Subscribed." },
      ...TICKET_PUSH_REFUSALS,
    },
  },
  {
    method: "delete",
    path: "/api/queue/push-subscription",
    operationId: "unsubscribePush",
    tag: "Notifications",
    summary: "No more notices about one's ticket",
    security: TICKET,
    responses: { 204: { description: "No subscription any more (also when there was none)." }, ...TICKET_PUSH_REFUSALS },
  },
  {
    method: "post",
    path: "/api/queue/push-received",
    operationId: "pushReceived",
    tag: "Notifications",
    summary: "The service worker showed a notice",
    description:
      "The true delivery of a notice. For `admitted`, an unclaimed admission is held for the claim window from this report (the first report counts; never past the return window from the admission).",
    security: TICKET,
    requestBody: { description: "Which notice arrived.", schema: pushReceivedRequest },
    responses: { 204: { description: "Noted." }, ...TICKET_PUSH_REFUSALS },
  },
  {
    method: "get",
    path: "/api/cohorts",
    operationId: "listCohorts",
    tag: "Cohorts",
    summary: "The cohorts, their opening (and pre-queue) times, and whether they are open",
    responses: { 200: { description: "Every cohort, in configured order (cacheable for 10 s).", body: cohortsResponse } },
  },
  {
    method: "get",
    path: "/api/cohorts/{id}/draw",
    operationId: "cohortDraw",
    tag: "Cohorts",
    summary: "A cohort's pre-queue draw, to check one's place",
    description:
      "From the pre-queue's start: the commitment to the seed. From the opening: also the seed, each shard's draw values in place order with how many of each have been let in, and the rule (`order`) that merges the lists into the cohort's one order (`npm run verify-draw` checks them).",
    parameters: [cohortId],
    responses: {
      200: { description: "The commitment, and from the opening the revealed draw.", body: drawInfo },
      404: { description: "No such cohort, or one without a pre-queue", errors: ["not_found"] },
      409: { description: "The pre-queue has not started: `opensAt` says when", errors: ["cohort_not_open"] },
      503: { description: "A shard is briefly busy", errors: ["unavailable"], headers: SEE_RETRY_AFTER },
    },
  },
  {
    method: "get",
    path: "/.well-known/jwks.json",
    operationId: "passKeys",
    tag: "Passes",
    summary: "The keys that verify passes",
    description: "Public ES256 keys, named by `kid`; a retired key stays listed while passes it signed may live (cacheable for 5 minutes).",
    responses: { 200: { description: "A JWKS.", body: passJwks } },
  },
  throughTheGate({
    method: "get",
    path: "/api/slots",
    operationId: "listSlots",
    summary: "Clinic slots, by region and day",
    description:
      "Served from the edge's cache, kept about a second per region and day and location, after the pass is verified; a refresh is forwarded to the booking origin with a pass as its bearer. Seats shown may be a second old: a booking is always decided by the origin (409 `slot_full`).",
    parameters: [
      { name: "region", in: "query", description: "A region's administrative code.", schema: slotsQuery.shape.region.unwrap(), example: "11" },
      { name: "date", in: "query", description: "A day in Korea, YYYY-MM-DD.", schema: slotsQuery.shape.date.unwrap(), example: "2026-11-26" },
    ],
    responses: {
      200: { description: "The slots that match, with seats remaining.", body: slotsResponse },
      400: { description: "A query parameter is not valid (checked at the edge, before any origin read)", errors: ["invalid_request"] },
    },
  }),
  throughTheGate({
    method: "get",
    path: "/api/slots/dates",
    operationId: "listSlotDates",
    summary: "The days a region has free seats on",
    description:
      "Days in Korea, from today, with at least one free seat in a slot that has not started, earliest first (the page starts its date picker on the first); an empty list means the region has no free seat left. Cached at the edge as the slots are, about a second per region and location.",
    parameters: [{ name: "region", in: "query", required: true, description: "A region's administrative code.", schema: slotDatesQuery.shape.region, example: "11" }],
    responses: {
      200: { description: "The days with free seats, and how many seats each has free.", body: slotDatesResponse },
      400: { description: "The region is missing or not valid (checked at the edge, before any origin read)", errors: ["invalid_request"] },
    },
  }),
  throughTheGate({
    method: "post",
    path: "/api/bookings",
    operationId: "book",
    summary: "Book a slot",
    description:
      "The citizen and cohort come from the pass. The same request again (same pass, same slot) while its booking is live answers 200 with that booking, so a retry after a lost answer books once. A request that finds a live booking it did not make (another pass's, or this pass's in another slot: a second tab) books nothing and answers 409 `already_booked` with that booking in `booking`. A booking, made, replayed or found, releases the pass's place in the line.",
    requestBody: { description: "The slot to book.", schema: bookingRequest },
    responses: {
      403: {
        description: "Booking access (signed in again after the pass expired) reaches the booking held, never a new one: to book, join the line",
        errors: ["insufficient_scope"],
        headers: { "www-authenticate": '`Bearer error="insufficient_scope"`' },
      },
      200: { description: "This pass's live booking in this slot, made earlier by the same request (a replay).", body: bookingResponse },
      201: { description: "The booking, made now.", body: bookingResponse },
      404: { description: "No such slot", errors: ["not_found"] },
      409: {
        description: "The slot is full; or the citizen already holds a live booking this request did not make (another pass's, or this pass's in another slot), named in `booking`: nothing was booked",
        errors: ["already_booked", "slot_full"],
      },
    },
  }, PASS),
  throughTheGate({
    method: "get",
    path: "/api/bookings/me",
    operationId: "myBooking",
    summary: "The citizen's live booking in the pass's cohort",
    responses: {
      200: { description: "The live booking.", body: bookingResponse },
      404: { description: "No live booking", errors: ["booking_not_found"] },
    },
  }),
  throughTheGate({
    method: "patch",
    path: "/api/bookings/{id}",
    operationId: "moveBooking",
    summary: "Move the booking to another slot",
    description: "In one transaction: the new seat is taken, the old one freed, or nothing changes. The booking keeps its id.",
    parameters: [bookingId],
    requestBody: { description: "The slot to move to.", schema: bookingChange },
    responses: {
      503: {
        description:
          "The booking origin is briefly unavailable; or, for booking access, the citizen's shard of the line is full or paused (`line_busy`): a change then waits as a booking would. The booking is unchanged",
        errors: ["unavailable", "line_busy"],
        headers: SEE_RETRY_AFTER,
      },
      200: { description: "The booking in its slot (also when it was there already).", body: bookingResponse },
      404: { description: "Not this citizen's booking in this cohort, or no such slot; the booking is unchanged", errors: ["booking_not_found", "not_found"] },
      409: { description: "The slot is full, or the booking was cancelled; the booking is unchanged", errors: ["slot_full", "booking_cancelled"] },
    },
  }),
  throughTheGate({
    method: "delete",
    path: "/api/bookings/{id}",
    operationId: "cancelBooking",
    summary: "Cancel the booking",
    description: "The seat is freed in the same transaction; cancelling twice gives the same answer. The pass may book again while it lives.",
    parameters: [bookingId],
    responses: {
      200: { description: "The booking, cancelled.", body: bookingResponse },
      404: { description: "Not this citizen's booking in this cohort", errors: ["booking_not_found"] },
    },
  }),
  {
    method: "get",
    path: "/auth/login",
    operationId: "signIn",
    tag: "Sign-in",
    summary: "Browsers: start signing in at the identity provider",
    description: "Redirects to the provider (OpenID Connect, authorization code with PKCE); the provider sends the browser back to `/auth/callback`.",
    ...STARTS_SIGN_IN,
  },
  {
    method: "get",
    path: "/auth/booking-access",
    operationId: "signInForBooking",
    tag: "Sign-in",
    summary: "Browsers: sign in again to change or cancel a booking, without joining the line",
    description:
      "As `/auth/login`, through the same provider and callback; the callback then joins nothing and sets booking access (the citizen's own booking in their cohort: read, move, cancel; never a new booking), and redirects to `/?signin=booking_access`. Counted against the citizen's join limit.",
    ...STARTS_SIGN_IN,
  },
  {
    method: "get",
    path: "/auth/callback",
    operationId: "signInCallback",
    tag: "Sign-in",
    summary: "Browsers: the identity provider's redirect back",
    description:
      "Verifies the provider's id_token exactly as a join does, joins the line, sets the ticket cookie and redirects to the page. A browser is redirected with the outcome (`/?signin=…`) where a script gets the error.",
    parameters: [
      { name: "code", in: "query", description: "The provider's authorization code.", schema: z.string() },
      { name: "state", in: "query", description: "The sign-in's state, as `/auth/login` sent it.", schema: z.string() },
    ],
    responses: {
      303: {
        description: "Back to the page, in the line (or with `?signin=<code>` saying why not); from `/auth/booking-access`, with booking access and no place (`?signin=booking_access`).",
        headers: { location: "The page.", ...SETS_TICKET },
      },
      401: { description: "The sign-in was not started in this browser, expired, was cancelled, or the id_token is not valid", errors: ["invalid_identity"] },
      403: NOT_ELIGIBLE,
      409: NOT_OPEN_YET_OR_GIVEN_UP,
      429: JOIN_LIMITED,
      503: JOIN_UNAVAILABLE,
    },
  },
  operatorsOnly({
    method: "get",
    path: "/api/ops/queue",
    operationId: "opsQueue",
    summary: "Operators only: every cohort's line, admissions and active count",
    description: "Counters summed over each cohort's shards, from the same cached snapshots as status polls; no one's identity.",
    responses: {
      200: { description: "The bindings in force and each cohort's counters.", body: opsQueue },
    },
  }),
  operatorsOnly({
    method: "get",
    path: "/api/ops/cohorts/{id}/history",
    operationId: "opsCohortHistory",
    summary: "Operators only: a cohort's recent minutes",
    description: "Oldest first, one a minute, the last being the minute under way; summed over the cohort's shards.",
    parameters: [cohortId, { name: "minutes", in: "query", description: "How many minutes back.", schema: historyQuery(HISTORY_MINUTES).shape.minutes, example: "30" }],
    responses: {
      200: { description: "The cohort's minutes and the policy in force.", body: cohortHistory },
      400: { description: "`minutes` is not a whole number in range", errors: ["invalid_request"] },
      404: { description: "No such cohort", errors: ["not_found"] },
    },
  }),
  {
    method: "get",
    path: LOGIN_PATH,
    operationId: "operatorLogin",
    tag: "Operators",
    summary: "Operators, on a machine without Cloudflare Access: spend the one-time link `npm start` printed",
    parameters: [{ name: "code", in: "query", description: "The one-time code.", schema: z.string() }],
    responses: {
      303: { description: "To the console, signed in.", headers: { location: "/ops", "set-cookie": `${OPERATOR_COOKIE}: the operator session (HttpOnly, Secure, SameSite=Strict).` } },
      401: { description: "A code that is not valid, has expired or was spent", errors: ["operator_required"] },
      404: { description: "No local login here (Cloudflare Access guards the console, or none is configured)", errors: ["not_found"] },
    },
  },
  {
    method: "get",
    path: "/ops",
    operationId: "operatorConsole",
    tag: "Operators",
    summary: "Operators only: the console page",
    security: OPERATOR,
    responses: {
      200: { description: "The console.", media: "text/html" },
      401: NOT_OPERATOR_PAGE,
      503: ACCESS_UNAVAILABLE,
    },
  },
  {
    method: "get",
    path: "/ops/{file}",
    operationId: "operatorConsoleFile",
    tag: "Operators",
    summary: "Operators only: the console's files (its script, styles and charting library)",
    security: OPERATOR,
    parameters: [{ name: "file", in: "path", description: "A file of the console.", schema: z.string(), example: "console.js" }],
    responses: {
      200: { description: "The file.", media: "application/octet-stream" },
      401: NOT_OPERATOR_PAGE,
      404: { description: "No such file", errors: ["not_found"] },
      503: ACCESS_UNAVAILABLE,
    },
  },
  {
    method: "get",
    path: "/api/openapi.json",
    operationId: "openApiDocument",
    tag: "Reference",
    summary: "This document",
    responses: { 200: { description: "OpenAPI 3.1 (cacheable for 5 minutes).", media: "application/json" } },
  },
  {
    method: "get",
    path: "/api/docs",
    operationId: "apiReference",
    tag: "Reference",
    summary: "This document as a page to read",
    responses: { 200: { description: "The reference, as plain HTML.", media: "text/html" } },
  },
];

/** Builds the edge's document; call it once and keep the result (it is the same for the isolate's life). */
export function edgeApiDocument(): OpenApiDocument {
  return openApiDocument({
    title: "Waiting room: the edge's API",
    version: "1",
    description:
      'The JSON API that apps and the page call. Every error is `{"error":{"code":"…","message":"…"}}` with the status below; `code` is stable and meant for programs. Bodies are JSON up to 8 KB. The booking API (Booking) is the origin\'s, served through the edge to pass holders only.',
    tags: [
      { name: "Queue", description: "Joining the line with an id_token, and where one stands in it." },
      { name: "Notifications", description: "Web Push about one's ticket: near the front, admitted, booked (docs/notifications.md)." },
      { name: "Cohorts", description: "What anyone may read: the cohorts, their openings and their pre-queue draws." },
      { name: "Passes", description: "How the origin (or anyone) verifies a pass." },
      { name: "Booking", description: "The booking origin's API, through the edge's gate: a valid pass is required." },
      { name: "Sign-in", description: "The browser's way in: OpenID Connect at the identity provider, ending in a place in the line." },
      { name: "Operators", description: "Operators only: Cloudflare Access's JWT where it guards the console, else the operator session from the local one-time link." },
      { name: "Reference", description: "This document." },
    ],
    securitySchemes: {
      ticketCookie: { type: "apiKey", in: "cookie", name: TICKET_COOKIE, description: "The ticket, as the join sets it for the page." },
      ticketBearer: { type: "http", scheme: "bearer", bearerFormat: "ticket", description: "The join answer's `ticket`, for apps." },
      passCookie: { type: "apiKey", in: "cookie", name: PASS_COOKIE, description: "The pass, as the status answer sets it once admitted." },
      passBearer: { type: "http", scheme: "bearer", bearerFormat: "JWT", description: "The status answer's `pass`: an ES256 JWT, verifiable with /.well-known/jwks.json." },
      bookingAccessCookie: {
        type: "apiKey",
        in: "cookie",
        name: BOOKING_ACCESS_COOKIE,
        description: `Booking access, as \`/auth/booking-access\` sets it: the citizen's own booking only (read, move, cancel), for ${BOOKING_ACCESS_TTL_SECONDS} s.`,
      },
      bookingAccessBearer: {
        type: "http",
        scheme: "bearer",
        bearerFormat: BOOKING_ACCESS_TYP,
        description: `Booking access as a bearer: an ES256 JWT of \`typ\` ${BOOKING_ACCESS_TYP} with \`scope\` ${BOOKING_ACCESS_SCOPE}, verifiable with /.well-known/jwks.json.`,
      },
      operatorSession: { type: "apiKey", in: "cookie", name: OPERATOR_COOKIE, description: "The operator session from the one-time link (no Cloudflare Access)." },
      cloudflareAccess: { type: "apiKey", in: "header", name: ACCESS_HEADER, description: "Cloudflare Access's JWT, which Access adds where it guards the console." },
    },
    schemas: {
      JoinRequest: joinRequest,
      JoinResponse: joinResponse,
      QueueStatus: queueStatus,
      LeaveResponse: leaveResponse,
      CohortInfo: cohortInfo,
      CohortsResponse: cohortsResponse,
      DrawInfo: drawInfo,
      PassJwks: passJwks,
      Slot: slot,
      SlotsResponse: slotsResponse,
      SlotDate: slotDate,
      SlotDatesResponse: slotDatesResponse,
      Booking: booking,
      BookingRequest: bookingRequest,
      BookingChange: bookingChange,
      BookingResponse: bookingResponse,
      PushKeyResponse: pushKeyResponse,
      PushSubscriptionRequest: pushSubscriptionRequest,
      PushReceivedRequest: pushReceivedRequest,
      OpsQueue: opsQueue,
      CohortHistory: cohortHistory,
    },
    commonErrors: [
      { status: 400, description: "`Content-Length` is not a non-negative integer", codes: ["invalid_request"] },
      { status: 400, description: "the body is not JSON, or not of the schema", codes: ["bad_json", "invalid_request"], withBody: true },
      { status: 413, description: "The body is over 8 KB", codes: ["payload_too_large"] },
      { status: 415, description: "The body is not sent as application/json", codes: ["unsupported_media_type"], withBody: true },
      { status: 500, description: "Something broke on our side; the message says nothing of it", codes: ["internal"] },
    ],
    sharedResponses: {
      NotFound: { description: "No such endpoint.", errors: ["not_found"] },
      MethodNotAllowed: { description: "A known path asked with a method it does not answer; `Allow` names those it does.", errors: ["method_not_allowed"] },
    },
    operations,
  });
}
