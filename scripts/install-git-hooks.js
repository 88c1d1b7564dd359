/**
 * npm's `prepare` (run by `npm install` and `npm ci`): points git at .githooks/, so every contributor's
 * commits pass the same hooks (commit-msg: subject lines of at most 72 characters). Plain JavaScript, so
 * it runs before and without the dev dependencies. It never fails the install: it does nothing where there
 * is no git, where this folder is not the top of a git work tree (an exported copy, or a copy inside
 * another repository, whose hooks it must not replace), or where git already has a hooks path of its own.
 */
import { execFileSync } from "node:child_process";
import { realpathSync } from "node:fs";

const HOOKS = ".githooks";

/** git's answer, or undefined where git is missing or says no (`git config` of an unset key exits 1). */
function git(...args) {
  try {
    return execFileSync("git", args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return undefined;
  }
}

const top = git("rev-parse", "--show-toplevel");
if (top && realpathSync(top) === realpathSync(process.cwd())) {
  const current = git("config", "core.hooksPath");
  if (current === undefined) {
    if (git("config", "core.hooksPath", HOOKS) === undefined) console.warn(`could not set git's core.hooksPath; to use this project's hooks: git config core.hooksPath ${HOOKS}`);
  } else if (current !== HOOKS) {
    console.warn(`git's core.hooksPath is ${current}; to use this project's hooks: git config core.hooksPath ${HOOKS}`);
  }
}
