/**
 * `npm run simulate`: the flash-crowd replay of a 2021 cohort opening (bench/lib/replay.ts), the same
 * crowd through a modelled origin or with leavers, or a scaled-down crowd against the running stack.
 * Reports go to bench/results/ as JSON, Markdown and SVG charts.
 *
 *   npm run simulate                              # 2.36 M people of cohort 50-52, 64 shards
 *   npm run simulate -- --independent-shards      # each shard a line of its own, as before the coordinator
 *   npm run simulate -- --cohort 55-59 --shards 128 --rate 30000
 *   npm run simulate -- --locations 300 --isolates 4  # the poll model's spread of the crowd (the defaults)
 *   npm run simulate -- --live --scale 0.0005     # a scaled-down crowd against the running stack
 *   npm run simulate -- --live --edge http://127.0.0.1:8787 --idp http://127.0.0.1:8789
 *   npm run simulate -- --origin-scenarios        # an origin that halves, fails, degrades: autopilot off vs on
 *   npm run simulate -- --origin-scenarios --scenario halves --floor 2000 --target-p95 1000 --max-error-share 0.01
 *   npm run simulate -- --abandonment-scenarios   # 0%, 30% and 60% of the crowd leave: presence at work
 *   npm run simulate -- --leave-scenarios         # 10% give their place up: nobody / the button / closing the tab
 *   npm run simulate -- --leave-share 0.1 --abandon 0   # one replay with 10% giving their place up
 *   npm run simulate -- --notify-scenarios --scale 0.1  # 30% away from the screen: no notifications / notified
 *   npm run simulate -- --away 0.3 --look-after 480 --notified 1   # one replay with the away group notified
 *   npm run simulate -- --abandon 0.3 --leave-after 600 --return 0.25 --return-after 600 --presence 30 --return-window 600
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { simulate, writeReport } from "./lib/replay.js";
import { COHORTS_2021, DEFAULTS, type SimulationOptions } from "./lib/replay-options.js";
import { runAbandonmentScenarios } from "./simulate-abandonment.js";
import { runLeaveScenarios } from "./simulate-leave.js";
import { runLive } from "./simulate-live.js";
import { runNotifyScenarios } from "./simulate-notify.js";
import { AUTOPILOT_DEFAULTS, runOriginScenarios } from "./simulate-origin.js";

interface OriginScenarioArgs {
  /** `--origin-scenarios`: replay through a modelled origin, autopilot off and on (bench/simulate-origin.ts). */
  run: boolean;
  /** `--scenario ID` (repeatable): only these. */
  only: string[];
  floorPerMinute?: number;
  targetP95Ms?: number;
  maxErrorShare?: number;
}

function parseArgs(argv: string[]): { options: SimulationOptions; live: boolean; scale: number; edge: string; idp: string; origin: OriginScenarioArgs; abandonment: boolean; leaving: boolean; notify: boolean; scaleSet: boolean } {
  const o: SimulationOptions = { ...DEFAULTS };
  let live = false;
  let scale = 0.001;
  let edge = process.env.EDGE_URL ?? "http://127.0.0.1:8787";
  // The development identity provider `npm start` runs: live citizens get their id_tokens from it.
  let idp = "http://127.0.0.1:8789";
  let peopleSet = false;
  let abandonment = false;
  let leaving = false;
  let notify = false;
  let scaleSet = false;
  const origin: OriginScenarioArgs = { run: false, only: [] };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    const num = () => {
      const v = Number(value());
      if (!Number.isFinite(v) || v < 0) throw new Error(`${flag} needs a non-negative number`);
      return v;
    };
    const share = () => {
      const v = num();
      if (v > 1) throw new Error(`${flag} is a share, between 0 and 1`);
      return v;
    };
    switch (flag) {
      case "--cohort": {
        const c = value();
        if (!(c in COHORTS_2021)) throw new Error(`--cohort is one of ${Object.keys(COHORTS_2021).join(", ")}`);
        o.cohort = c as keyof typeof COHORTS_2021;
        break;
      }
      case "--people": o.people = Math.floor(num()); peopleSet = true; break;
      case "--shards": o.shards = Math.max(1, Math.floor(num())); break;
      case "--independent-shards": o.independentShards = true; break;
      case "--rate": o.admitPerMinute = num(); break;
      case "--max-active": o.maxActive = Math.floor(num()); break;
      case "--claim-window": o.claimWindowSeconds = num(); break;
      case "--pass-ttl": o.passTtlSeconds = num(); break;
      case "--abandon": o.abandonShare = share(); break;
      case "--leave-after": o.leaveMeanSeconds = num(); break;
      case "--return": o.returnShare = share(); break;
      case "--return-after": o.returnMeanSeconds = num(); break;
      case "--presence": o.presenceSeconds = num(); break;
      case "--return-window": o.returnWindowSeconds = num(); break;
      case "--pass-idle": o.passIdleSeconds = num(); break;
      case "--abandonment-scenarios": abandonment = true; break;
      case "--leave-share": o.leaveShare = share(); break;
      case "--leave-scenarios": leaving = true; break;
      case "--away": o.awayShare = share(); break;
      case "--look-after": o.lookMeanSeconds = num(); break;
      case "--notified": o.notifiedShare = share(); break;
      case "--notify-scenarios": notify = true; break;
      case "--refresh": o.refreshShare = num(); break;
      case "--lapse": o.lapseShare = share(); break;
      case "--seed": o.seed = Math.floor(num()); break;
      case "--locations": o.locations = Math.max(1, Math.floor(num())); break;
      case "--isolates": o.isolatesPerLocation = Math.max(1, Math.floor(num())); break;
      case "--cache-ttl": o.cacheTtlSeconds = num(); break;
      case "--object-limit": o.objectSoftLimit = num(); break;
      case "--live": live = true; break;
      case "--scale": scale = num(); scaleSet = true; break;
      case "--edge": edge = value(); break;
      case "--idp": idp = value(); break;
      case "--origin-scenarios": origin.run = true; break;
      case "--scenario": origin.only.push(value()); break;
      case "--floor": origin.floorPerMinute = num(); break;
      case "--target-p95": origin.targetP95Ms = num(); break;
      case "--max-error-share": origin.maxErrorShare = num(); break;
      default: throw new Error(`unknown option ${flag}`);
    }
  }
  if (!peopleSet) o.people = COHORTS_2021[o.cohort].people;
  if (o.maxActive < o.shards) throw new Error("--max-active must be at least --shards");
  if (o.abandonShare + o.leaveShare > 1) throw new Error("--abandon and --leave-share add up to more than the crowd");
  return { options: o, live, scale, edge, idp, origin, abandonment, leaving, notify, scaleSet };
}

const { options, live, scale, edge, idp, origin, abandonment, leaving, notify, scaleSet } = parseArgs(process.argv.slice(2));
const dir = join(dirname(fileURLToPath(import.meta.url)), "results");
if (notify) {
  // The whole cohort unless --scale says otherwise (--scale's own default is the live replay's).
  console.log(runNotifyScenarios(options, dir, scaleSet ? scale : 1));
} else if (leaving) {
  console.log(runLeaveScenarios(options, dir));
} else if (abandonment) {
  console.log(runAbandonmentScenarios(options, dir));
} else if (origin.run) {
  const { run: _, only, ...given } = origin;
  const autopilot = { ...AUTOPILOT_DEFAULTS, ...Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)) };
  console.log(runOriginScenarios(options, dir, only, autopilot));
} else if (live) {
  await runLive({ ...options, people: Math.max(1, Math.round(options.people * scale)) }, edge, idp, dir);
} else {
  const lines = options.independentShards ? "independent shards" : "one line";
  console.log(`Replaying ${options.people.toLocaleString("en")} people of cohort ${options.cohort} across ${options.shards} shards (${lines})...`);
  const report = simulate(options);
  console.log(writeReport(report, dir, `simulate-${options.cohort}${options.independentShards ? "-independent" : ""}`));
}
