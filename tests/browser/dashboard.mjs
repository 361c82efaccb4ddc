// The Now page in a real browser (Debian's Chromium, driven by playwright-core;
// tests/browser/lib.mjs), against the server the Rust harness started
// (tests/it/browser.rs): sign-in and refusal, a phone's patrol and check-in
// appearing without a reload, the language switch, the 390 px phone layout.

import { check, follow, run, shots, signIn, step, url } from "./lib.mjs";

await run("dashboard", async (browser, watch) => {
  // A volunteer is told to use the phone app.
  {
    const page = watch(await browser.newPage());
    await signIn(page, "demo-volunteer");
    check((await page.textContent("body")).includes("手机应用"), "a volunteer gets the refusal page");
    check(!(await page.context().cookies()).some((c) => c.name === "fs_session"), "and no session");
    await page.screenshot({ path: `${shots}/refused-volunteer.png`, fullPage: true });
    await page.close();
  }

  // The office signs in and watches the night without reloading.
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = watch(await context.newPage());
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
  await follow(page, "a.lang");
  check((await page.textContent("h1")).includes("Tonight"), "the switch turns the page English");
  check((await page.getAttribute("html", "lang")) === "en", "html lang is en");
  await page.screenshot({ path: `${shots}/now-en.png`, fullPage: true });
  await page.goto(`${url}/`);
  check((await page.textContent("h1")).includes("Tonight"), "English sticks across pages");
  await follow(page, "a.lang");
  check((await page.textContent("h1")).includes("当前值班"), "and switches back to Chinese");
  await context.close();

  // A leader on a phone: 390 px wide, no horizontal scrolling.
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
  const small = watch(await phone.newPage());
  await signIn(small, "demo-leader");
  const widths = await small.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  check(widths[0] <= widths[1], `no horizontal scrolling at 390 px (content ${widths[0]} px, window ${widths[1]} px)`);
  await small.screenshot({ path: `${shots}/now-phone-390.png`, fullPage: true });
  await phone.close();
});
