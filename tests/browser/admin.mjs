// The admin and audit pages in a real browser (tests/browser/lib.mjs),
// against the server the Rust harness started (tests/it/browser.rs): the
// office creates a user through the form, opens the printable QR tag sheet,
// and finds both on the audit page; the audit page at 390 px has no
// horizontal scrolling.

import { check, follow, run, shots, signIn, url } from "./lib.mjs";

await run("admin", async (browser, watch) => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = watch(await context.newPage());
  await signIn(page, "demo-office");
  await follow(page, "nav.menu a[href='/admin/users']");
  check((await page.textContent("h1")).includes("用户管理"), "the office opens the users page, in Chinese");

  await page.fill("#new-user input[name=username]", "browser-made");
  await page.fill("#new-user input[name=display_name]", "Wen Ruolan");
  await page.selectOption("#new-user select[name=role]", "guard");
  await page.fill("#new-user input[name=password]", "a long password");
  await page.selectOption("#new-user select[name=team]", "team-1");
  await follow(page, "#new-user button[type=submit]");
  check((await page.textContent("h1")).includes("Wen Ruolan"), "the form creates the user and opens their page");
  check((await page.textContent(".notice")).includes("用户已创建"), "with a notice");
  await follow(page, ".subnav a[href='/admin/users']");
  check((await page.textContent("table.users")).includes("browser-made"), "the new user is listed");
  await page.screenshot({ path: `${shots}/users-zh.png`, fullPage: true });

  await follow(page, ".subnav a[href='/admin/places']");
  await follow(page, "a[href='/admin/places/tags?building=3']");
  const codes = await page.locator(".tag-sheet .tag svg").count();
  check(codes === 4, `the building 3 tag sheet has a QR code per post (${codes})`);
  check((await page.textContent(".tag-sheet")).includes("3栋2单元 9F"), "labelled as people say it");
  await page.screenshot({ path: `${shots}/tag-sheet.png`, fullPage: true });
  await page.emulateMedia({ media: "print" });
  check(!(await page.isVisible("header.bar")), "the menu bar is not printed");
  await page.emulateMedia({ media: "screen" });

  await follow(page, "nav.menu a[href='/audit']");
  const log = await page.textContent("table.audit");
  check(log.includes("创建用户") && log.includes("Lin Qiao"), "the audit page names the office user's new user");
  await page.selectOption("#audit-filter select[name=action]", "user.create");
  await follow(page, "#audit-filter button[type=submit]");
  check(page.url().includes("action=user.create"), "the filter is in the address");
  check((await page.locator("table.audit tbody tr").count()) === 1, "one entry of that action");
  await page.screenshot({ path: `${shots}/audit.png`, fullPage: true });
  await context.close();

  // The office on a phone: 390 px wide, no horizontal scrolling.
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
  const small = watch(await phone.newPage());
  await signIn(small, "demo-office");
  for (const path of ["/audit", "/admin/users", "/admin/places"]) {
    await small.goto(`${url}${path}`);
    const widths = await small.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
    check(widths[0] <= widths[1], `no horizontal scrolling on ${path} at 390 px (content ${widths[0]} px, window ${widths[1]} px)`);
    if (path === "/audit") await small.screenshot({ path: `${shots}/audit-390.png`, fullPage: true });
  }
  await phone.close();
});
