// The vhost selector: "All" lists queues of every vhost with a Virtual host column;
// choosing one lists only its queues (no column), survives a reload, and "All" brings
// everything back. Input (env): VHOST (holds OTHER_QUEUE), ROOT_QUEUE (in "/").
import { BASE, check, login, newPage, run } from './lib.mjs';

const { VHOST, OTHER_QUEUE, ROOT_QUEUE } = process.env;

run(async (context) => {
  const page = await newPage(context);
  await login(page, 'guest', 'guest');
  await page.goto(`${BASE}/#/queues`);
  await page.waitForSelector(`table.data a:text-is("${OTHER_QUEUE}")`);
  await page.waitForSelector(`table.data a:text-is("${ROOT_QUEUE}")`);
  check(await page.locator('th:has-text("Virtual host")').count() === 1, 'All: both queues, with a Virtual host column');
  const options = await page.locator('#vhost-select option').allTextContents();
  check(options.join(',') === `All,/,${VHOST}`, `the selector offers ${options.join(', ')}`);

  await page.selectOption('#vhost-select', VHOST);
  await page.waitForSelector(`table.data a:text-is("${OTHER_QUEUE}")`);
  check(await page.locator(`table.data a:text-is("${ROOT_QUEUE}")`).count() === 0, `${VHOST}: only its queue`);
  check(await page.locator('th:has-text("Virtual host")').count() === 0, 'one vhost: no Virtual host column');
  await page.reload();
  await page.waitForSelector(`table.data a:text-is("${OTHER_QUEUE}")`);
  check(await page.locator(`table.data a:text-is("${ROOT_QUEUE}")`).count() === 0, 'the choice survives a reload');
  check(await page.inputValue('#vhost-select') === VHOST, 'the selector shows the choice after a reload');

  await page.selectOption('#vhost-select', '');
  await page.waitForSelector(`table.data a:text-is("${ROOT_QUEUE}")`);
  check(true, 'All lists every vhost again');
});
