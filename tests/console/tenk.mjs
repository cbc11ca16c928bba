// 10,000 queues (q-00000 ... q-09999, made by the Rust test): the list loads one page
// from the server (100 rows) and shows the total; paging, sorting and filtering are
// answered by the server. Prints load_ms, next_page_ms, sort_ms and filter_ms.
import { BASE, check, login, newPage, run } from './lib.mjs';

const COUNT = Number(process.env.COUNT);
const BOUND_MS = Number(process.env.BOUND_MS || 10000);
const label = COUNT.toLocaleString('en-US');

async function timed(name, action, until) {
  const start = Date.now();
  await action();
  await until();
  const ms = Date.now() - start;
  console.log(`${name}=${ms}`);
  check(ms < BOUND_MS, `${name} took ${ms} ms (bound ${BOUND_MS} ms)`);
}

run(async (context) => {
  const page = await newPage(context);
  await login(page, 'guest', 'guest');
  await timed('load_ms', () => page.goto(`${BASE}/#/queues`),
    () => page.waitForSelector(`.table-status[data-total="${COUNT}"]`));
  check(await page.locator('table.data tbody tr').count() === 100, 'one page of 100 rows is shown');
  const status = await page.textContent('.table-status');
  check(status.includes(`${label} total`) && status.includes('of 100'), `status: ${status}`);
  check(await page.textContent('table.data tbody tr:first-child a') === 'q-00000', 'sorted by name, q-00000 first');

  await timed('next_page_ms', () => page.click('nav.pager button:text-is("Next ›")'),
    () => page.waitForSelector('table.data tbody tr:first-child a:text-is("q-00100")'));
  await timed('sort_ms', () => page.click('th button.sort:text-is("Name")'),
    () => page.waitForSelector('table.data tbody tr:first-child a:text-is("q-09999")'));
  check((await page.textContent('.table-status')).startsWith('Page 1 of 100'), 'sorting goes back to page 1');
  await timed('filter_ms', () => page.fill('#queues-filter', 'q-0424'),
    () => page.waitForSelector('.table-status[data-filtered="10"]'));
  check(await page.locator('table.data tbody tr').count() === 10, 'the filter leaves q-04240 ... q-04249');
  await page.click('th button.sort:text-is("Total")');
  await page.waitForSelector('th[aria-sort] button:text-is("Total")');
  check(await page.locator('table.data tbody tr').count() === 10, 'sorting keeps the filter');
});
