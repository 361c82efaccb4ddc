// The dashboard in a real browser (Debian's Chromium, driven by
// playwright-core), against the server the Rust harness started
// (tests/it/browser.rs). Protocol on stdout: `STEP <name>` asks the harness to
// act (a phone checks in) and waits for its `ok` on stdin; everything else is
// passed to the test output. Screenshots go to the directory given. Any
// failed check exits non-zero.
//
// usage: node dashboard.mjs <server-url> <screenshot-dir> <chromium> <playwright-core dir>

import { createInterface } from "node:readline";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [url, shots, executablePath, playwrightDir] = process.argv.slice(2);
const { chromium } = await import(pathToFileURL(join(playwrightDir, "index.mjs")).href);
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

function log(message) {
  console.log(`[browser] ${message}`);
}

function check(ok, what) {
  if (!ok) {
    throw new Error(`check failed: ${what}`);
  }
  log(`ok: ${what}`);
}

async function step(name) {
  console.log(`STEP ${name}`);
  const answer = await lines.next();
  if (answer.done || answer.value.trim() !== "ok") {
    throw new Error(`the harness did not do ${name}: ${answer.value}`);
  }
}

async function signIn(page, username) {
  await page.goto(`${url}/login`);
  await page.fill("input[name=username]", username);
  await page.fill("input[name=password]", "fieldsync-demo");
  await Promise.all([page.waitForLoadState("load"), page.click("button[type=submit]")]);
}

/// Fails the test on any Content-Security-Policy violation or script error.
function watch(page, problems) {
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
}

const browser = await chromium.launch({
  executablePath,
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
const problems = [];
try {
  // A volunteer is told to use the phone app.
  {
    const page = await browser.newPage();
    watch(page, problems);
    await signIn(page, "demo-volunteer");
    check((await page.textContent("body")).includes("手机应用"), "a volunteer gets the refusal page");
    check(!(await page.context().cookies()).some((c) => c.name === "fs_session"), "and no session");
    await page.screenshot({ path: `${shots}/refused-volunteer.png`, fullPage: true });
    await page.close();
  }

  // The office signs in and watches the night without reloading.
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  watch(page, problems);
  await signIn(page, "demo-office");
  check((await page.textContent("h1")).includes("当前值班"), "the office lands on the Now page, in Chinese");
  await page.screenshot({ path: `${shots}/now-zh.png`, fullPage: true });
  // A marker a reload would wipe.
  await page.evaluate(() => { window.fieldsyncMarker = "kept"; });
  await page.waitForFunction(() => window.htmx !== undefined);

  await step("phone-starts-patrol");
  await page.waitForFunction(
    () => document.querySelector("#live-body").textContent.includes("Tang Xiaohe"),
    null,
    { timeout: 15000 },
  );
  check(true, "a patrol a phone started appears without a reload");
  await step("phone-checks-in");
  await page.waitForFunction(
    () => (document.querySelector("#live-body .last-checkin") || { textContent: "" }).textContent.includes("3栋2单元 9F"),
    null,
    { timeout: 15000 },
  );
  check(
    (await page.evaluate(() => window.fieldsyncMarker)) === "kept",
    "the phone's check-in shows on the Now page without a reload",
  );
  await page.screenshot({ path: `${shots}/now-live-checkin.png`, fullPage: true });

  // English by the switch, and back.
  await Promise.all([page.waitForLoadState("load"), page.click("a.lang")]);
  check((await page.textContent("h1")).includes("Tonight"), "the switch turns the page English");
  check((await page.getAttribute("html", "lang")) === "en", "html lang is en");
  await page.screenshot({ path: `${shots}/now-en.png`, fullPage: true });
  await page.goto(`${url}/`);
  check((await page.textContent("h1")).includes("Tonight"), "English sticks across pages");
  await Promise.all([page.waitForLoadState("load"), page.click("a.lang")]);
  check((await page.textContent("h1")).includes("当前值班"), "and switches back to Chinese");
  await context.close();

  // A leader on a phone: 390 px wide, no horizontal scrolling.
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
  const small = await phone.newPage();
  watch(small, problems);
  await signIn(small, "demo-leader");
  const widths = await small.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  check(widths[0] <= widths[1], `no horizontal scrolling at 390 px (content ${widths[0]} px, window ${widths[1]} px)`);
  await small.screenshot({ path: `${shots}/now-phone-390.png`, fullPage: true });
  await phone.close();

  check(problems.length === 0, `no script errors or policy violations (${problems.join("; ")})`);
  log("dashboard scenario passed");
} catch (e) {
  console.error(e);
  process.exitCode = 1;
} finally {
  await browser.close();
}
// stdin stays open for STEP answers; end here rather than wait for it.
process.exit();
