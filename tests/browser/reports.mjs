// The reports in a real browser (tests/browser/lib.mjs), against the server
// the Rust harness started with the demo community (tests/it/browser.rs):
// the office opens the list, the demo night's daily report and the month's
// summary, prints the summary to PDF with Chromium and reads the PDF back
// (pdftotext): its title and totals are those of the report's JSON. The
// first printed page is pictured as PNG (pdftoppm) beside the screenshots.

import { execFileSync } from "node:child_process";
import { check, follow, run, shots, signIn, url } from "./lib.mjs";

// The demo night was two nights ago; its month, in the community's zone.
const month = new Intl.DateTimeFormat("en-CA", {
  timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit",
}).format(new Date(Date.now() - 2 * 24 * 3600 * 1000));

await run("reports", async (browser, watch) => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = watch(await context.newPage());
  await signIn(page, "demo-office");
  await follow(page, "nav.menu a[href='/reports']");
  check((await page.textContent("h1")).includes("报表"), "the reports list, in Chinese");
  check((await page.textContent("main")).includes("近期月度总结"), "with the monthly summaries");
  await page.screenshot({ path: `${shots}/list-zh.png`, fullPage: true });
  check((await page.locator("a[href^='/reports/evidence/']").count()) >= 12, "an evidence pack per month");

  // The demo night's shift: the skipped 9F post is missed, in words.
  const shifts = page.locator(".report-list").first().locator("a");
  check((await shifts.count()) >= 1, "recent shifts are listed");
  let opened = false;
  for (let i = 0; i < (await shifts.count()) && !opened; i++) {
    await Promise.all([page.waitForLoadState("load"), shifts.nth(i).click()]);
    const article = await page.textContent("article");
    if (article.includes("漏签") && article.includes("标签已验证")) {
      opened = true;
    } else {
      await page.goBack();
    }
  }
  check(opened, "a daily report with the demo night's check-ins and its missed post");
  check((await page.textContent("h1")).includes("每日巡查小结"), "the daily summary's title");
  await page.screenshot({ path: `${shots}/daily-zh.png`, fullPage: true });

  // The month's summary, its figures as JSON, and printed.
  await page.goto(`${url}/reports/monthly?period=${month}`);
  check((await page.textContent("h1")).includes("月度总结"), "the monthly summary's title");
  const json = await (await page.request.get(`${url}/reports/monthly?period=${month}&format=json`)).json();
  check(json.totals.checkins > 0, `the month has the demo night's check-ins (${json.totals.checkins})`);
  await page.screenshot({ path: `${shots}/monthly-zh.png`, fullPage: true });
  await page.emulateMedia({ media: "print" });
  check(!(await page.locator(".report-tools").isVisible()), "the toolbar is not printed");
  const pdf = `${shots}/monthly-zh.pdf`;
  await page.pdf({ path: pdf, format: "A4", printBackground: true });
  const text = execFileSync("pdftotext", ["-layout", pdf, "-"]).toString();
  check(text.includes("月度总结"), "the PDF has the title");
  check(text.includes(month), "and the month");
  const line = text.split("\n").find((l) => l.trim().startsWith("签到次数"));
  check(line !== undefined && line.includes(String(json.totals.checkins)),
    `and the check-ins total (${json.totals.checkins}): ${line}`);
  const onTime = text.split("\n").find((l) => l.trim().startsWith("按时 "));
  check(onTime !== undefined && onTime.includes(String(json.totals.posts.on_time)),
    `and the posts on time (${json.totals.posts.on_time}): ${onTime}`);
  execFileSync("pdftoppm", ["-png", "-r", "70", "-f", "1", "-l", "1", "-singlefile", pdf, `${shots}/monthly-print`]);

  // In English, the same figures.
  await page.emulateMedia({ media: "screen" });
  await page.goto(`${url}/lang?to=en&back=${encodeURIComponent(`/reports/monthly?period=${month}`)}`);
  check((await page.textContent("h1")).includes("Monthly summary"), "the summary in English");
  await page.screenshot({ path: `${shots}/monthly-en.png`, fullPage: true });
});
