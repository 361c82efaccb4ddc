// The hazard ledger in a real browser (tests/browser/lib.mjs), against the
// server the Rust harness started (tests/it/browser.rs): the office assigns
// a demo hazard to the grid worker with a deadline, the grid worker's phone
// rectifies it (STEP), the leader verifies it, the office closes it, and the
// history names everyone; the ledger at 390 px has no horizontal scroll.

import { check, follow, run, shots, signIn, step, url } from "./lib.mjs";

const hazard = "hazard-demo-reported";

await run("hazards", async (browser, watch) => {
  const office = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = watch(await office.newPage());
  await signIn(page, "demo-office");
  await follow(page, "nav.menu a[href='/hazards']");
  check((await page.textContent("h1")).includes("隐患台账"), "the ledger, in Chinese");
  const rows = await page.locator("tr.hazard-row").count();
  check(rows >= 8, `the office sees the demo hazards (${rows})`);
  check((await page.textContent("table.ledger")).includes("逾期未整改"), "overdue says so in words");
  await page.screenshot({ path: `${shots}/ledger-zh.png`, fullPage: true });

  // The plain GET form filters without script.
  await page.selectOption("select[name=state]", "closed");
  await follow(page, ".ledger-filters button[type=submit]");
  check(page.url().includes("state=closed"), "the filter is in the query string");
  check((await page.locator("tr.hazard-row").count()) === 1, "one closed hazard");
  await page.goto(`${url}/hazards`);

  // The office assigns the reported hazard to the grid worker.
  await follow(page, `tr[data-id=${hazard}] a`);
  await page.fill("form.assign input[name=unit]", "物业公司");
  await page.selectOption("form.assign select[name=person]", "user-demo-grid");
  await page.fill("form.assign input[name=deadline]", "2030-01-15");
  await page.fill("form.assign input[name=note]", "检查前整改完毕");
  await follow(page, "form.assign button[type=submit]");
  check((await page.textContent("h1")).includes("已交办"), "assigned");
  check((await page.textContent(".events")).includes("物业公司 · Fang Yunzhi (grid worker) · 2030-01-15"), "the assignment is in the history");

  // The grid worker's phone gets it, rectifies it and syncs.
  await step("phone-rectifies");

  // The leader verifies it.
  const leaderContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const leader = watch(await leaderContext.newPage());
  await signIn(leader, "demo-leader");
  await leader.goto(`${url}/hazards/${hazard}`);
  check((await leader.textContent("h1")).includes("已整改"), "the leader sees the phone's rectification");
  check((await leader.locator("form.close").count()) === 0, "a leader is not offered close");
  await leader.fill("form.verify input[name=note]", "现场复核通过");
  await follow(leader, "form.verify button[type=submit]");
  check((await leader.textContent("h1")).includes("已验收"), "verified");
  await leaderContext.close();

  // The office closes it.
  await page.reload();
  check((await page.textContent("h1")).includes("已验收"), "the office sees the verification");
  await follow(page, "form.close button[type=submit]");
  check((await page.textContent("h1")).includes("已销号"), "closed");
  const history = await page.textContent(".events");
  for (const [who, what] of [
    ["Tang Xiaohe (volunteer)", "上报"],
    ["Lin Qiao (office)", "交办"],
    ["Fang Yunzhi (grid worker)", "整改"],
    ["Zhou Mingyuan (leader)", "验收"],
    ["Lin Qiao (office)", "销号"],
  ]) {
    check(history.includes(who) && history.includes(what), `the history names ${who} for ${what}`);
  }
  check(history.includes("现场复核通过") && history.includes("检查前整改完毕"), "with their notes");
  check((await page.locator(".event").count()) === 5, "five events");
  await page.screenshot({ path: `${shots}/hazard-detail-zh.png`, fullPage: true });
  await follow(page, "a.lang");
  check((await page.textContent("h1")).includes("Closed"), "the detail page in English");
  await page.screenshot({ path: `${shots}/hazard-detail-en.png`, fullPage: true });
  await follow(page, "a.lang");
  await office.close();

  // A leader on a phone: the ledger as cards, no horizontal scrolling.
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
  const small = watch(await phone.newPage());
  await signIn(small, "demo-leader");
  await small.goto(`${url}/hazards`);
  const widths = await small.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  check(widths[0] <= widths[1], `no horizontal scrolling at 390 px (content ${widths[0]} px, window ${widths[1]} px)`);
  check((await small.locator("tr[data-id=hazard-demo-major]").count()) === 0, "the leader's ledger has their grid only");
  await small.screenshot({ path: `${shots}/ledger-phone-390.png`, fullPage: true });
  await small.goto(`${url}/hazards/${hazard}`);
  const detailWidths = await small.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  check(detailWidths[0] <= detailWidths[1], `the detail page fits 390 px too (${detailWidths[0]} px)`);
  await small.screenshot({ path: `${shots}/hazard-phone-390.png`, fullPage: true });
  await phone.close();
});
