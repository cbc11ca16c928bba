// Live refresh: the Queues page asks the API again every few seconds and updates the
// rows it already has (the same <tr> elements, so nothing flickers) with the new depth;
// after leaving the page, no more requests for it are made. Input (env): QUEUE, whose
// depth the Rust test raises from 1 while the page is open (every second).
import { BASE, check, login, newPage, run } from './lib.mjs';

const { QUEUE } = process.env;

run(async (context) => {
  const page = await newPage(context);
  const listCalls = [];
  page.on('request', (r) => {
    if (new URL(r.url()).pathname === '/api/queues') listCalls.push(Date.now());
  });
  await login(page, 'guest', 'guest');
  await page.goto(`${BASE}/#/queues`);
  const row = page.locator('table.data tbody tr', { has: page.locator(`a:text-is("${QUEUE}")`) });
  await row.waitFor();
  const before = await row.locator('td').nth(7).textContent();
  await row.evaluate((tr) => { tr.dataset.marker = 'kept'; });
  const calls = listCalls.length;
  // Wait until a refresh shows a different total.
  await page.waitForSelector(`table.data tbody tr[data-marker=kept] td:nth-child(8):not(:text-is("${before}"))`, { timeout: 20000 });
  const after = await row.locator('td').nth(7).textContent();
  check(listCalls.length > calls, `the list was asked again (${listCalls.length - calls} more requests)`);
  check(true, `the row updated in place: total ${before} -> ${after}, the same <tr>`);

  await page.click('#nav a:text-is("Overview")');
  await page.waitForSelector('.totals li');
  const left = listCalls.length;
  await page.waitForTimeout(7000);
  check(listCalls.length === left, `no list requests after leaving the page (${listCalls.length - left})`);
});
