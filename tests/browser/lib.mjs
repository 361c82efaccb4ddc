// What every browser scenario shares: launching Debian's Chromium through
// playwright-core, the STEP protocol with the Rust harness
// (tests/it/browser.rs), checks that fail the scenario, signing in, and
// watching pages for script errors and policy violations.
//
// A scenario is run as: node <scenario>.mjs <server-url> <screenshot-dir>
// <chromium> <playwright-core dir>. `STEP <name>` on stdout asks the harness
// to act (a phone checks in, say) and waits for its `ok` on stdin; anything
// else is passed to the test output. Any failed check exits non-zero.

import { createInterface } from "node:readline";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

export const [url, shots, executablePath, playwrightDir] = process.argv.slice(2);
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

export function log(message) {
  console.log(`[browser] ${message}`);
}

export function check(ok, what) {
  if (!ok) {
    throw new Error(`check failed: ${what}`);
  }
  log(`ok: ${what}`);
}

/// Asks the harness to do `name` and waits until it has.
export async function step(name) {
  console.log(`STEP ${name}`);
  const answer = await lines.next();
  if (answer.done || answer.value.trim() !== "ok") {
    throw new Error(`the harness did not do ${name}: ${answer.value}`);
  }
}

export async function signIn(page, username) {
  await page.goto(`${url}/login`);
  await page.fill("input[name=username]", username);
  await page.fill("input[name=password]", "fieldsync-demo");
  await Promise.all([page.waitForLoadState("load"), page.click("button[type=submit]")]);
}

/// Clicks what `selector` names and waits for the page it leads to.
export async function follow(page, selector) {
  await Promise.all([page.waitForLoadState("load"), page.click(selector)]);
}

/// Runs `scenario(browser, problems)` in a fresh headless Chromium; fails on
/// any failed check, Content-Security-Policy violation or script error, and
/// prints `<name> scenario passed` at the end.
export async function run(name, scenario) {
  const { chromium } = await import(pathToFileURL(join(playwrightDir, "index.mjs")).href);
  const browser = await chromium.launch({
    executablePath,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
  const problems = [];
  const watch = (page) => {
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(`console: ${m.text()}`);
    });
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    return page;
  };
  try {
    await scenario(browser, watch);
    check(problems.length === 0, `no script errors or policy violations (${problems.join("; ")})`);
    log(`${name} scenario passed`);
  } catch (e) {
    console.error(e);
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
  // stdin stays open for STEP answers; end here rather than wait for it.
  process.exit();
}
