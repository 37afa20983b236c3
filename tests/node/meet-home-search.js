// Contacts with `disableFullGAB` (config.json): the app never loads the whole directory and
// searches on the server as the user types. usage: node meet-home-search.js <issuer> <ca> <user> <password> <term> <expected name>
'use strict';

const { launch, newPage, signIn, runScript } = require('./lib/meet');

const [iss, ca, username, password, term, name] = process.argv.slice(2);
const out = { step: 'launch', gc: [] };
let browser;
let page;
runScript('meet-home-search', 90000, out, () => ({ browser, page }), async () => {
  browser = await launch({ iss, ca });
  page = await newPage(browser);
  page.on('request', (r) => { const u = new URL(r.url()); if (u.pathname.startsWith('/api/gc/')) out.gc.push(decodeURIComponent(u.pathname + u.search)); });
  await signIn(page, iss, username, password);
  await page.waitForSelector('[data-testid=home][data-ready=true]');
  out.step = 'new call';
  await page.click('[data-testid=new-call]');
  await page.waitForSelector('[data-testid=contact-search]');
  out.hint = (await page.textContent('.contacts .note')).trim();
  out.list_before = await page.$$eval('[data-testid=contact-list] .list-title', (e) => e.length);
  out.step = 'search';
  await page.fill('[data-testid=contact-search]', term);
  await page.waitForSelector(`[data-testid=contact-list] .list-item:has-text("${name}")`);
  out.found = await page.$$eval('[data-testid=contact-list] .list-title', (els) => els.map((e) => e.textContent.trim()));
  await page.fill('[data-testid=contact-search]', 'nobody-matches-this');
  await page.waitForSelector('.contacts .note:has-text("Nobody matches")');
  out.none = (await page.textContent('.contacts .note:has-text("Nobody matches")')).trim();
});
