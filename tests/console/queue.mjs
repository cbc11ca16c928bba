// A queue's life in the console. Input (env): QUEUE (declared by lapin with 3 messages
// m1..m3), ARCHIVE (an empty queue to move into), WATCHED (a queue with a lapin
// consumer tagged console-watcher); SCREENSHOTS: a directory for the README's PNGs.
import { BASE, LAPTOP, PHONE, check, login, newPage, run } from './lib.mjs';

const { QUEUE, ARCHIVE, WATCHED, SCREENSHOTS } = process.env;
const enc = encodeURIComponent;

// (The page's CSP forbids eval, so waits use selectors, not page.waitForFunction.)
async function total(page, n) {
  await page.waitForSelector(`#queue-total:text-is("${n}")`);
}

run(async (context) => {
  const page = await newPage(context);
  await login(page, 'guest', 'guest');

  // The list: the lapin-declared queue with its depth.
  await page.goto(`${BASE}/#/queues`);
  await page.fill('#queues-filter', QUEUE);
  const row = page.locator('table.data tbody tr', { has: page.locator(`a:text-is("${QUEUE}")`) });
  await row.waitFor();
  await page.waitForSelector(`table.data tbody tr:nth-child(2) a:text-is("${ARCHIVE}")`);
  check(true, 'the filter keeps the queues whose names contain it');
  const cells = await row.locator('td').allTextContents();
  check(cells.includes('3'), `the queue list shows ${QUEUE} with 3 messages (${cells.join(' | ')})`);
  check(cells.some((c) => c.includes('D')), 'the durable badge is shown');

  // Its page.
  await row.locator('a').click();
  await page.waitForSelector('#queue-name');
  check(page.url().endsWith(`#/queues/${enc('/')}/${QUEUE}`), `the queue page's URL is ${page.url()}`);
  await total(page, 3);
  check(true, 'the queue page shows a depth of 3');

  // Publish from the UI, then get it back in the UI (requeued), as text and as base64.
  await page.fill('#publish-form textarea[name=payload]', 'hello from the browser');
  await page.click('#publish-form button[type=submit]');
  await page.waitForSelector('#alerts .alert-ok');
  await total(page, 4);
  check(true, 'a message published from the console is counted');
  await page.fill('#get-form input[name=count]', '4');
  await page.click('#get-form button[type=submit]');
  await page.waitForSelector('#got-messages article.message >> nth=3');
  const payloads = await page.locator('#got-messages pre.payload').allTextContents();
  check(JSON.stringify(payloads) === JSON.stringify(['m1', 'm2', 'm3', 'hello from the browser']),
    `get messages shows the payloads in order: ${payloads.join(', ')}`);
  await page.selectOption('#get-form select[name=encoding]', 'base64');
  await page.fill('#get-form input[name=count]', '1');
  await page.click('#get-form button[type=submit]');
  await page.waitForSelector('#got-messages article.message:nth-child(2)', { state: 'detached' });
  const b64 = await page.textContent('#got-messages pre.payload');
  check(b64 === Buffer.from('m1').toString('base64'), `the body as base64: ${b64}`);
  const redelivered = await page.textContent('#got-messages dl');
  check(/Redelivered\s*yes/.test(redelivered), 'a requeued message comes back redelivered');
  await total(page, 4);

  if (SCREENSHOTS) {
    await page.screenshot({ path: `${SCREENSHOTS}/queue.png`, fullPage: true });
    await page.setViewportSize(PHONE);
    await page.goto(`${BASE}/#/queues`);
    await page.goto(`${BASE}/#/queues/${enc('/')}/${QUEUE}`);
    await total(page, 4);
    await page.screenshot({ path: `${SCREENSHOTS}/queue-phone.png`, fullPage: false });
    await page.setViewportSize(LAPTOP);
  }

  // Bindings: add, see, remove.
  await page.fill('#bind-form input[name=source]', 'amq.direct');
  await page.fill('#bind-form input[name=routing_key]', 'console-key');
  await page.click('#bind-form button[type=submit]');
  const binding = page.locator('tr', { has: page.locator('td:text-is("console-key")') });
  await binding.waitFor();
  check(true, 'a binding added from the console is listed');
  await binding.locator('button.unbind').click();
  await binding.waitFor({ state: 'detached' });
  check(true, 'unbinding removes it');

  // Move every message to the archive queue.
  await page.fill('#move-form input[name=to]', ARCHIVE);
  await page.click('#move-form button[type=submit]');
  await page.waitForSelector('#move-result:has-text("Moved")');
  const moved = await page.textContent('#move-result');
  check(moved.startsWith('Moved 4 '), `move: "${moved}"`);
  await total(page, 0);

  // Purge (with confirmation) after publishing two more.
  for (const body of ['p1', 'p2']) {
    await page.fill('#publish-form textarea[name=payload]', body);
    await page.click('#publish-form button[type=submit]');
  }
  await total(page, 2);
  await page.click('#purge');
  await page.click('dialog.confirm button.danger');
  await total(page, 0);
  check(true, 'purge empties the queue');

  // Delete: cancel first (nothing happens), then confirm.
  await page.click('#delete-queue');
  await page.click('dialog.confirm button:text-is("Cancel")');
  await page.waitForSelector('dialog.confirm', { state: 'detached' });
  check(page.url().includes(`#/queues/${enc('/')}/${QUEUE}`), 'cancelling the delete keeps the queue page');
  await page.click('#delete-queue');
  const prompt = await page.textContent('dialog.confirm');
  check(prompt.includes(QUEUE), 'the delete confirmation names the queue');
  await page.click('dialog.confirm button.danger');
  await page.waitForSelector('[data-page=queues] table.data');
  await page.fill('#queues-filter', QUEUE);
  await page.waitForSelector(`table.data a:text-is("${ARCHIVE}")`);
  await page.waitForSelector(`table.data a:text-is("${QUEUE}")`, { state: 'detached' });
  check(true, 'a deleted queue is gone from the list');

  // Adding a queue: the API's error text is shown for bad arguments; then it works.
  await page.fill('#queues-filter', '');
  await page.fill('#add-queue input[name=name]', 'console-added');
  await page.fill('#add-queue textarea[name=arguments]', '{"x-max-length": "abc"}');
  await page.click('#add-queue button[type=submit]');
  const error = await page.locator('#alerts .alert-error').textContent();
  check(error.includes("invalid arg 'x-max-length'"), `the API's error is shown: ${error}`);
  await page.fill('#add-queue textarea[name=arguments]', '{"x-max-length": 10}');
  await page.click('#add-queue button[type=submit]');
  const added = page.locator('table.data tr', { has: page.locator('a:text-is("console-added")') });
  await added.waitFor();
  check((await added.textContent()).includes('Lim'), 'the added queue is listed with its Lim badge');

  // A lapin consumer is listed on its queue's page.
  await page.goto(`${BASE}/#/queues/${enc('/')}/${WATCHED}`);
  await page.waitForSelector('td:text-is("console-watcher")');
  check(true, 'the consumer tag of a lapin consumer is listed');

  if (SCREENSHOTS) {
    await page.goto(`${BASE}/#/queues`);
    await page.waitForSelector('table.data tbody tr td a');
    await page.screenshot({ path: `${SCREENSHOTS}/queues.png`, fullPage: true });
    await page.goto(`${BASE}/#/overview`);
    await page.waitForSelector('.totals li');
    await page.waitForTimeout(11000); // three samples for the charts
    await page.screenshot({ path: `${SCREENSHOTS}/overview.png`, fullPage: true });
    await page.setViewportSize(PHONE);
    await page.screenshot({ path: `${SCREENSHOTS}/overview-phone.png`, fullPage: false });
  }
});
