// Tags: a `monitoring` user (USER/PASSWORD) sees the queue QUEUE and its depth but no
// control that writes (publish, get, move, bind, unbind, purge, delete, add queue);
// guest (administrator) sees them all on the same pages, so the check can fail.
import { BASE, check, login, newPage, run } from './lib.mjs';

const { QUEUE, USER, PASSWORD } = process.env;
const WRITE_CONTROLS = ['#publish-form', '#get-form', '#move-form', '#bind-form', '#purge', '#delete-queue'];

async function queuePage(page) {
  await page.goto(`${BASE}/#/queues/${encodeURIComponent('/')}/${QUEUE}`);
  await page.waitForSelector('#queue-total:text-is("2")');
  await page.waitForSelector('td:text-is("ro-key")');
}

run(async (context) => {
  const admin = await newPage(context);
  await login(admin, 'guest', 'guest');
  await queuePage(admin);
  for (const sel of WRITE_CONTROLS) check(await admin.locator(sel).count() === 1, `an administrator sees ${sel}`);
  check(await admin.locator('button.unbind').count() === 1, 'an administrator sees the Unbind button');
  await admin.goto(`${BASE}/#/queues`);
  await admin.waitForSelector('#add-queue');
  await admin.click('#logout');

  const page = await newPage(context);
  await login(page, USER, PASSWORD);
  check((await page.textContent('#user')).includes('monitoring'), 'the header shows the monitoring tag');
  await queuePage(page);
  check(true, 'a monitoring user sees the queue, its depth and its bindings');
  for (const sel of WRITE_CONTROLS) check(await page.locator(sel).count() === 0, `a monitoring user sees no ${sel}`);
  check(await page.locator('button.unbind').count() === 0, 'a monitoring user sees no Unbind button');
  const buttons = await page.locator('main button').allTextContents();
  check(buttons.every((b) => !/publish|purge|delete|move|get|bind|add/i.test(b)),
    `the only buttons are harmless: ${buttons.join(', ') || 'none'}`);
  await page.goto(`${BASE}/#/queues`);
  await page.waitForSelector('table.data tbody tr td a');
  check(await page.locator('#add-queue').count() === 0, 'a monitoring user has no "Add a queue" form');
  check(await page.locator('#nav a:text-is("Admin")').count() === 0, 'a monitoring user has no Admin section');
});
