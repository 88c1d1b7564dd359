/*
 * The operators' console (/ops): every few seconds it reads GET /api/ops/queue (the bindings and each
 * cohort's counters) and, for each open cohort, GET /api/ops/cohorts/{id}/history (minute by minute, summed
 * over the shards), and draws them with uPlot. Plain script, no framework; the data is counters only.
 */
"use strict";

const REFRESH_MS = 4_000;
const CHART_HEIGHT = 170;
const COLORS = { joined: "#0969da", admitted: "#1a7f37", departed: "#9a6700", limit: "#8c959f", waiting: "#8250df", active: "#bf8700", peak: "#e6b34f", cap: "#cf222e", pace: "#1a7f37", wait: "#d1242f" };

const state = { span: 30, cohorts: new Map(), timer: 0 };

/*
 * Every time in Korea time, labelled, whatever the browser's zone: the openings are 20:00 in Korea, and
 * citizens see Korea time. Fixed to "en-US" with a 24-hour clock, so the console reads the same in any
 * browser language.
 */
const KOREA = "Asia/Seoul";
const koreaClock = new Intl.DateTimeFormat("en-US", { timeZone: KOREA, hourCycle: "h23", hour: "2-digit", minute: "2-digit", second: "2-digit" });
const koreaMinute = new Intl.DateTimeFormat("en-US", { timeZone: KOREA, hourCycle: "h23", hour: "2-digit", minute: "2-digit" });
const koreaDay = new Intl.DateTimeFormat("en-US", { timeZone: KOREA, year: "numeric", month: "short", day: "numeric" });
/** "14:05:09 KST" */
const koreaTime = (iso) => `${koreaClock.format(new Date(iso))} KST`;
/** "Jul 20, 2099, 20:00 KST" */
const koreaDateTime = (iso) => `${koreaDay.format(new Date(iso))}, ${koreaMinute.format(new Date(iso))} KST`;

/** The command line that changes the running edge (scripts/ops.ts): what the console offers to copy. */
const ops = (...args) => `npm run ops -- ${args.join(" ")}`;

const number = (n, digits = 0) => (n === null || n === undefined ? "–" : Number(n).toLocaleString("en", { maximumFractionDigits: digits }));
function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

function element(tag, attributes = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attributes)) {
    if (k === "text") el.textContent = v;
    else el.setAttribute(k, v);
  }
  el.append(...children);
  return el;
}

class SignedOut extends Error {}

async function getJson(path) {
  const res = await fetch(path, { cache: "no-store", credentials: "same-origin", headers: { accept: "application/json" } });
  if (res.status === 401) throw new SignedOut();
  if (!res.ok) throw new Error(`${path} answered ${res.status}`);
  return res.json();
}

/** The four charts of a cohort: what each draws, from the history's minutes and the cohort's policy. */
const CHARTS = [
  {
    key: "flow",
    title: "Joined, admitted and left per minute, against the configured rate",
    series: [
      { label: "joined", stroke: COLORS.joined, width: 2 },
      { label: "admitted", stroke: COLORS.admitted, width: 2 },
      { label: "left", stroke: COLORS.departed, width: 2 },
      { label: "rate", stroke: COLORS.limit, dash: [6, 4], width: 1.5 },
    ],
    values: (m, policy) => [m.map((x) => x.joined), m.map((x) => x.admitted), m.map((x) => x.departed), m.map(() => policy.admitPerMinute)],
  },
  {
    key: "line",
    title: "Waiting in line",
    series: [{ label: "waiting", stroke: COLORS.waiting, fill: "rgba(130,80,223,.12)", width: 2 }],
    values: (m) => [m.map((x) => x.waiting)],
  },
  {
    key: "active",
    title: "Active (admitted, holding a place at the origin) against the cap",
    series: [
      { label: "active", stroke: COLORS.active, width: 2 },
      { label: "peak in minute", stroke: COLORS.peak, width: 1 },
      { label: "cap", stroke: COLORS.cap, dash: [6, 4], width: 1.5 },
    ],
    values: (m, policy) => [m.map((x) => x.active), m.map((x) => x.activeMax), m.map(() => policy.maxActive)],
  },
  {
    key: "pace",
    title: "Pace (admitted per minute, 5-minute average) and median wait",
    series: [
      { label: "pace /min", stroke: COLORS.pace, width: 2, spanGaps: true },
      { label: "median wait", stroke: COLORS.wait, width: 2, scale: "s", spanGaps: true, value: (u, v) => duration(v) },
    ],
    axes: [{ scale: "s", side: 1, grid: { show: false }, values: (u, splits) => splits.map((v) => duration(v)) }],
    values: (m) => [m.map((x) => x.pace), m.map((x) => x.medianWaitSeconds)],
  },
];

function chartWidth(container) {
  return Math.max(240, Math.floor(container.clientWidth));
}

/** Room for the widest tick label ("10,000" for a large cap), so no label is clipped at the left edge. */
function axisWidth(u, values) {
  const widest = Math.max(3, ...(values ?? []).map((v) => String(v).length));
  return 16 + widest * 7;
}

function makePlot(spec, container) {
  const opts = {
    width: chartWidth(container),
    height: CHART_HEIGHT,
    // The time axis and the legend in Korea time, as every other time on the console.
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), KOREA),
    scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] }, s: { range: (u, min, max) => [0, Math.max(10, max * 1.1)] } },
    series: [{ label: "Korea time", value: (u, ts) => (ts === null ? "–" : `${koreaMinute.format(ts * 1000)} KST`) }, ...spec.series.map((s) => ({ points: { show: false }, ...s }))],
    axes: [{ stroke: "#57606a", grid: { stroke: "#eaeef2" }, label: "Korea time (KST)", labelSize: 18, labelFont: "12px system-ui, sans-serif", values: (u, splits) => splits.map((ts) => koreaMinute.format(ts * 1000)) }, { stroke: "#57606a", grid: { stroke: "#eaeef2" }, size: axisWidth }, ...(spec.axes ?? []).map((a) => ({ stroke: "#57606a", size: 52, ...a }))],
    legend: { live: true },
    cursor: { drag: { x: false, y: false } },
  };
  return new uPlot(opts, [[], ...spec.series.map(() => [])], container);
}

/** The section of one cohort, made once and then updated in place, so charts keep their state. */
function cohortView(cohort) {
  let view = state.cohorts.get(cohort.id);
  if (view) return view;
  // The label alone: the id appears where it is typed, in the commands.
  const title = element("h2", {}, element("span", { text: cohort.label.en }));
  const badges = element("span", { class: "badges" });
  title.append(badges);
  const figures = element("div", { class: "figures" });
  const charts = element("div", { class: "charts" });
  const note = element("p", { class: "note" });
  const commands = element("div", { class: "commands" });
  const section = element("section", { class: "cohort", "data-cohort": cohort.id, "aria-label": cohort.label.en }, title, figures, note, commands, charts);
  document.getElementById("cohorts").append(section);
  view = { section, badges, figures, charts, note, commands, plots: new Map() };
  state.cohorts.set(cohort.id, view);
  return view;
}

function figure(name, label, value, detail) {
  return element("div", { class: "figure", "data-figure": name }, element("span", { text: label }), element("strong", { text: value }), ...(detail ? [element("small", { text: detail })] : []));
}

/** A rate per minute as operators type it: whole where it is whole. */
const rate = (n) => number(n, 1);

/**
 * The state badge and the rate figure, from the line's state the API decided (src/edge/operators/line-state.ts).
 * A paused line admits nobody, so it shows no rate in force, only what applies on resume; a line not open
 * yet shows the rate it opens at.
 */
function lineView(cohort) {
  const { line, policy } = cohort;
  const climbingTo = cohort.ratePerMinute < cohort.configuredPerMinute;
  switch (line.state) {
    case "not open yet":
      return {
        badge: element("span", { class: "badge closed", text: `not open yet · opens ${koreaDateTime(cohort.opensAt)}` }),
        rate: figure("rate", "Rate /min", "not open", `opens at ${rate(policy.admitPerMinute)}/min`),
      };
    case "paused":
      return {
        badge: element("span", { class: "badge paused", text: "PAUSED" }),
        rate: figure("rate", "Rate /min", "paused", climbingTo ? `on resume ${rate(cohort.ratePerMinute)}, climbing to ${rate(cohort.configuredPerMinute)}` : `on resume ${rate(policy.admitPerMinute)}`),
      };
    case "slowed":
      return {
        badge: element("span", { class: "badge slowed", text: `slowed by the autopilot: ${line.reason}` }),
        rate: figure("rate", "Rate /min", rate(cohort.ratePerMinute), `cut from ${rate(cohort.configuredPerMinute)}`),
      };
    case "climbing":
      return {
        badge: element("span", { class: "badge climbing", text: `climbing to ${rate(cohort.configuredPerMinute)}/min` }),
        rate: figure("rate", "Rate /min", rate(cohort.ratePerMinute), `climbing to ${rate(cohort.configuredPerMinute)}`),
      };
    default:
      return {
        badge: element("span", { class: "badge", text: "admitting" }),
        // Admitting: no shard is below its configured rate.
        rate: figure("rate", "Rate /min", rate(cohort.ratePerMinute), "as configured"),
      };
  }
}

/** The commands that change this cohort on the running edge, as text to copy. */
function commandsOf(cohort) {
  const toggle = cohort.policy.paused ? ops("resume", cohort.id) : ops("pause", cohort.id);
  return [
    element("span", { text: "Change it:" }),
    element("code", { text: toggle }),
    element("code", { text: ops("rate", cohort.id, String(Number(cohort.policy.admitPerMinute.toFixed(2)))) }),
  ];
}

function renderCohort(cohort, config, history) {
  const view = cohortView(cohort);
  const policy = cohort.policy;
  const shown = lineView(cohort);
  view.section.dataset.state = cohort.line.state;
  const badges = [shown.badge];
  if (policy.admitPerMinute !== config.admitPerMinute) badges.push(element("span", { class: "badge override", text: `own rate ${number(policy.admitPerMinute, 2)}/min` }));
  if (policy.maxActive !== config.maxActive) badges.push(element("span", { class: "badge override", text: `own cap ${number(policy.maxActive)}` }));
  if (policy.paused !== config.paused) badges.push(element("span", { class: "badge override", text: policy.paused ? "paused for this cohort" : "runs while others are paused" }));
  // Shards that do not keep one line with the others: their coordinator has not answered lately.
  if (cohort.shardsAlone > 0) badges.push(element("span", { class: "badge warn", text: `${number(cohort.shardsAlone)} of ${number(config.shards)} shards alone: coordinator not answering` }));
  view.badges.replaceChildren(...badges);

  const minutes = history ? history.minutes : [];
  const lastWait = [...minutes].reverse().find((m) => m.medianWaitSeconds !== null);
  // The pace the chart draws (complete minutes), else the shards' own figure, which needs five of them.
  const lastPace = [...minutes].reverse().find((m) => m.pace !== null);
  const pace = lastPace ? lastPace.pace : cohort.observedPerMinute;
  view.figures.replaceChildren(
    figure("joined", "Joined", number(cohort.joined)),
    figure("waiting", "Waiting", number(cohort.waiting)),
    figure("admitted", "Admitted", number(cohort.admitted)),
    figure("departed", "Left the line", number(cohort.departed)),
    figure("active", "Active / cap", `${number(cohort.active)} / ${number(policy.maxActive)}`),
    figure("pace", "Pace /min", pace === null ? "–" : number(pace, 1)),
    figure("wait", "Median wait", lastWait ? duration(lastWait.medianWaitSeconds) : "–"),
    // The autopilot: the rate the shards admit at, and the origin's health as this cohort's citizens met it.
    shown.rate,
    figure("origin", "Origin errors · p95", originHealth(cohort.origin)),
  );
  view.note.textContent = cohort.open ? noteText(cohort) : "The line opens at the time above; its charts start then.";
  view.note.hidden = view.note.textContent === "";
  view.commands.replaceChildren(...commandsOf(cohort));
  if (!cohort.open || !history) return;

  const xs = minutes.map((m) => Date.parse(m.at) / 1000);
  for (const spec of CHARTS) {
    let plot = view.plots.get(spec.key);
    if (!plot) {
      const box = element("div", { class: "plot" });
      const wrap = element("div", { class: "chart", "data-chart": spec.key }, element("h3", { text: spec.title }), box);
      view.charts.append(wrap);
      plot = { wrap, box, uplot: makePlot(spec, box) };
      view.plots.set(spec.key, plot);
      resizing.observe(box);
    }
    plot.uplot.setData([xs, ...spec.values(minutes, policy)]);
  }
  // For a reader of the page (and its browser test): what the flow chart now holds.
  view.plots.get("flow").wrap.dataset.joined = String(minutes.reduce((a, m) => a + m.joined, 0));
  view.plots.get("flow").wrap.dataset.departed = String(minutes.reduce((a, m) => a + m.departed, 0));
}

/** What the state asks of an operator, and why the rate last changed, in the controller's words. */
function noteText(cohort) {
  const why = {
    paused: "Nobody is admitted while paused; everyone keeps their place.",
    slowed: "The origin is in trouble: the autopilot admits fewer people until it recovers, then climbs back.",
    climbing: "The autopilot raises the rate step by step to the configured one (after a start, a raised rate or a recovery); nothing to do.",
  }[cohort.line.state];
  const change = cohort.rateChange;
  const last = change ? `Rate last changed ${koreaTime(change.at)} on shard ${change.shard}: ${change.reason}.` : "";
  return [why, last].filter(Boolean).join(" ");
}

function originHealth(origin) {
  const share = origin.errorShare === null ? "–" : `${number(origin.errorShare * 100, 1)}%`;
  const p95 = origin.p95Ms === null ? "–" : `${number(origin.p95Ms)} ms`;
  return `${share} · ${p95}`;
}

function renderBindings(config) {
  const pairs = [
    ["ADMIT_PER_MINUTE", number(config.admitPerMinute, 2)],
    ["MAX_ACTIVE", number(config.maxActive)],
    ["SHARDS", number(config.shards)],
    ["PAUSED", config.paused ? "true" : "false"],
    ["CLAIM_WINDOW_SECONDS", number(config.claimWindowSeconds)],
    ["PRESENCE_SECONDS", number(config.presenceSeconds)],
    ["RETURN_WINDOW_SECONDS", number(config.returnWindowSeconds)],
    ["PASS_IDLE_SECONDS", number(config.passIdleSeconds)],
    ["PASS_TTL_SECONDS", number(config.passTtlSeconds)],
    ["AUTOPILOT", config.autopilot.enabled ? "true" : "false"],
    ["ADMIT_FLOOR_PER_MINUTE", number(config.autopilot.floorPerMinute, 2)],
    ["ORIGIN_TARGET_P95_MS", number(config.autopilot.targetP95Ms)],
    ["ORIGIN_MAX_ERROR_SHARE", number(config.autopilot.maxErrorShare, 3)],
  ];
  document.getElementById("bindings").replaceChildren(...pairs.map(([k, v]) => element("div", {}, element("dt", { text: k }), element("dd", { text: v }))));
}

function showProblem(text) {
  const problem = document.getElementById("problem");
  problem.hidden = text === null;
  problem.textContent = text ?? "";
}

async function refresh() {
  clearTimeout(state.timer);
  try {
    const view = await getJson("/api/ops/queue");
    const histories = await Promise.all(
      view.cohorts.map((c) => (c.open ? getJson(`/api/ops/cohorts/${encodeURIComponent(c.id)}/history?minutes=${state.span}`) : null)),
    );
    renderBindings(view.config);
    view.cohorts.forEach((c, i) => renderCohort(c, view.config, histories[i]));
    document.getElementById("at").textContent = `As of ${koreaTime(view.at)} (Korea time), every ${REFRESH_MS / 1000} s`;
    showProblem(null);
  } catch (err) {
    if (err instanceof SignedOut) {
      showProblem("Your operator session has ended. Open a new one-time operator link (restart npm start), or sign in through Cloudflare Access.");
      return;
    }
    showProblem("Cannot reach the edge; retrying.");
  }
  state.timer = setTimeout(refresh, REFRESH_MS);
}

/** Charts follow their column's width (a turned phone, a resized window). */
const resizing = new ResizeObserver((entries) => {
  for (const entry of entries) {
    for (const view of state.cohorts.values()) {
      for (const plot of view.plots.values()) {
        const width = chartWidth(plot.box);
        if (plot.box === entry.target && plot.uplot.width !== width) plot.uplot.setSize({ width, height: CHART_HEIGHT });
      }
    }
  }
});

document.getElementById("span").addEventListener("change", (e) => {
  state.span = Number(e.target.value);
  void refresh();
});
void refresh();
