// The compliance board, a patrol and an incident in a real browser
// (tests/browser/lib.mjs), against the demo community the Rust harness
// started (tests/it/browser.rs): the seeded night's missed 9F post shows as
// missed, in words and colour; its drill-down and patrol page; the board at
// 390 px without horizontal scrolling; an incident whose text a phone filled
// with markup shows it as text and runs nothing.

import { check, follow, run, shots, signIn, step, url } from "./lib.mjs";

/// The text and status class of the cell of `place`'s row at `floor` ("9F").
async function cell(page, place, floor) {
  return page.evaluate(([place, floor]) => {
    const board = document.querySelector("table.board");
    if (!board) return null;
    const col = [...board.querySelectorAll("thead th")].findIndex((th) => th.textContent.trim() === floor);
    const row = [...board.querySelectorAll("tbody tr")].find((tr) => tr.querySelector("th").textContent.trim() === place);
    if (col < 0 || !row) return null;
    const td = row.children[col];
    return { text: td.textContent.replace(/\s+/g, " ").trim(), bad: td.querySelector(".mark.bad") !== null };
  }, [place, floor]);
}

await run("board", async (browser, watch) => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = watch(await context.newPage());
  page.on("dialog", (d) => {
    throw new Error(`a dialog opened: ${d.message()}`);
  });
  await signIn(page, "demo-office");
  await follow(page, "nav.menu a[href='/compliance']");
  check((await page.textContent("h1")).includes("楼道签到合规"), "the menu opens the compliance board");

  // The demo night: the shift whose 2-2 5F was walked and 9F was not.
  const shifts = await page.$$eval("select[name=shift] option", (os) => os.map((o) => o.value));
  let walked = null;
  for (const key of shifts) {
    await page.goto(`${url}/compliance?shift=${encodeURIComponent(key)}`);
    const f5 = await cell(page, "2栋2单元", "5F");
    if (f5 && f5.text.includes("按时")) {
      walked = key;
      break;
    }
  }
  check(walked !== null, "the demo night is on offer");
  const f9 = await cell(page, "2栋2单元", "9F");
  check(f9.bad && f9.text.includes("漏签"), `2栋2单元 9F shows as missed, in words and colour (${f9.text})`);
  check(!(await cell(page, "2栋2单元", "5F")).bad, "5F does not");
  await page.screenshot({ path: `${shots}/compliance-zh.png`, fullPage: true });

  // Drill down to the check-ins behind 9F, then to the patrol.
  await follow(page, "table.board tbody tr:has(th:text-is('2栋2单元')) td:nth-child(3) a.cell");
  check((await page.textContent("h1")).includes("2栋2单元 9F"), "the cell opens its post");
  check((await page.$$("table.checkins tbody tr")).length === 2, "two rounds checked in there");
  await page.screenshot({ path: `${shots}/compliance-post.png`, fullPage: true });
  await follow(page, "table.checkins tbody tr:first-child a");
  check((await page.textContent("h1")).includes("巡逻"), "and on to the patrol");
  check((await page.$$("svg.plan polyline.trail")).length === 1, "with its track on the plan");
  await page.screenshot({ path: `${shots}/patrol.png`, fullPage: true });

  // English labels on the board.
  await page.goto(`${url}/compliance?shift=${encodeURIComponent(walked)}`);
  await follow(page, "a.lang");
  const en = await cell(page, "Bldg 2 Unit 2", "9F");
  check(en && en.text.includes("Missed"), `in English too (${en && en.text})`);
  await page.screenshot({ path: `${shots}/compliance-en.png`, fullPage: true });
  await follow(page, "a.lang");

  // A phone files an incident whose cause is markup.
  await step("phone-files-incident");
  await follow(page, "nav.menu a[href='/incidents']");
  const cause = await page.textContent("table.stack tbody tr:first-child td:nth-child(3)");
  check(cause.includes("<img src=x onerror=alert(1)>"), "the markup shows as text in the list");
  await follow(page, "table.stack tbody tr:first-child a");
  check((await page.$$("main img")).length === 0, "and no image element was made of it");
  await follow(page, "form[action$='/acknowledge'] button");
  const history = await page.textContent("ol.history");
  check(history.includes("确认收到") && history.includes("Lin Qiao"), "the office's acknowledgement is in the history, by name");
  await page.screenshot({ path: `${shots}/incident.png`, fullPage: true });
  await context.close();

  // The leader's phone: the board at 390 px.
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
  const small = watch(await phone.newPage());
  await signIn(small, "demo-leader");
  await small.goto(`${url}/compliance?shift=${encodeURIComponent(walked)}`);
  const f9small = await cell(small, "2栋2单元", "9F");
  check(f9small && f9small.bad, "the leader sees the missed post on a phone");
  const widths = await small.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  check(widths[0] <= widths[1], `no horizontal scrolling at 390 px (content ${widths[0]} px, window ${widths[1]} px)`);
  await small.screenshot({ path: `${shots}/compliance-phone-390.png`, fullPage: true });
  await small.goto(`${url}/incidents`);
  const incidentWidths = await small.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  check(incidentWidths[0] <= incidentWidths[1], `the incident list fits too (${incidentWidths[0]} px)`);
  await phone.close();
});
