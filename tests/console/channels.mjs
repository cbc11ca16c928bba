// Channels: the channel CHANNEL (prefetch PREFETCH, a consumer CONSUMER on QUEUE
// holding UNACKED unacknowledged messages) is listed with those numbers; its page shows
// them and the consumer; a message published from the console in a second tab shows
// up on the open channel page as one more unacked message, without a reload.
import { check, run } from './lib.mjs';
import { rowWith, session } from './admin_lib.mjs';

const { CHANNEL, PREFETCH, CONSUMER, QUEUE, UNACKED } = process.env;

run(async (context) => {
  const { page, go } = await session(context, 'guest', 'guest');
  await go('channels');
  const row = rowWith(page, CHANNEL);
  await row.waitFor();
  const headers = await page.locator('table.data thead th').allInnerTexts();
  const cell = async (label) => (await row.locator('td').nth(headers.findIndex((h) => h.startsWith(label))).innerText()).trim();
  check(await cell('Prefetch') === PREFETCH, `the list shows prefetch ${PREFETCH}`);
  check(await cell('Unacked') === UNACKED, `the list shows ${UNACKED} unacked`);
  check(await cell('Consumers') === '1', 'the list shows one consumer');

  await row.getByRole('link', { name: CHANNEL, exact: true }).click();
  const consumers = page.getByRole('table', { name: 'Consumers on this channel' });
  await consumers.getByRole('row').filter({ hasText: CONSUMER }).waitFor();
  check(await consumers.getByRole('link', { name: QUEUE, exact: true }).count() === 1, 'the consumer links to its queue');
  const detail = (label) => page.locator('dl.details dt').filter({ hasText: new RegExp(`^${label}$`) }).locator('xpath=following-sibling::dd[1]');
  check((await detail('Prefetch count').innerText()) === PREFETCH, 'the channel page shows the prefetch');
  check((await detail('Messages unacknowledged').innerText()) === UNACKED, 'the channel page shows the unacked count');

  // Publish to the queue from the default exchange's page in another tab.
  const other = await session(context, 'guest', 'guest');
  await other.go('exchanges/%2F/amq.default');
  const publish = other.page.getByRole('form', { name: 'Publish message' });
  await publish.getByLabel('Routing key').fill(QUEUE);
  await publish.getByLabel('Payload', { exact: true }).fill('one more');
  await publish.getByRole('button', { name: 'Publish message' }).click();
  await publish.locator('.result.ok').waitFor();
  await other.page.close();
  const more = String(Number(UNACKED) + 1);
  await detail('Messages unacknowledged').filter({ hasText: new RegExp(`^${more}$`) }).waitFor();
  check(true, `the open channel page refreshes to ${more} unacked`);
});
