// Exchanges: declare the topic exchange EXCHANGE from the list's form, open its page,
// bind it to the queue QUEUE with ROUTING_KEY, publish one message that routes
// (BODY, key ROUTED_KEY) and one that does not, unbind, and delete the exchange.
// SCREENSHOTS: a directory for the README's PNGs (the list and the exchange page).
import { check, run } from './lib.mjs';
import { rowWith, session } from './admin_lib.mjs';

const { EXCHANGE, QUEUE, ROUTING_KEY, ROUTED_KEY, BODY, SCREENSHOTS } = process.env;

run(async (context) => {
  const { page, go } = await session(context, 'guest', 'guest');
  await go('exchanges');
  const add = page.getByRole('form', { name: 'Add a new exchange' });
  await add.getByLabel('Virtual host').selectOption('/');
  await add.getByLabel('Name').fill(EXCHANGE);
  await add.getByLabel('Type').selectOption('topic');
  await add.getByRole('button', { name: 'Add exchange' }).click();
  const row = rowWith(page, EXCHANGE);
  await row.waitFor();
  check((await row.textContent()).includes('topic'), 'the declared exchange is listed as topic');

  await row.getByRole('link', { name: EXCHANGE, exact: true }).click();
  await page.getByRole('heading', { name: 'Bindings from this exchange' }).waitFor();
  const bind = page.getByRole('form', { name: 'Add binding from this exchange' });
  await bind.getByLabel('Destination type').selectOption('q');
  await bind.getByLabel('Destination name').fill(QUEUE);
  await bind.getByLabel('Routing key').fill(ROUTING_KEY);
  await bind.getByRole('button', { name: 'Bind' }).click();
  const binding = page.getByRole('table', { name: 'Bindings from this exchange' }).getByRole('row').filter({ hasText: ROUTING_KEY });
  await binding.waitFor();
  check(true, 'the binding is listed');

  const publish = page.getByRole('form', { name: 'Publish message' });
  const result = publish.locator('.result');
  await publish.getByLabel('Routing key').fill(ROUTED_KEY);
  await publish.getByLabel('Payload', { exact: true }).fill(BODY);
  await publish.getByRole('button', { name: 'Publish message' }).click();
  await publish.locator('.result.ok').waitFor();
  check((await result.textContent()) === 'Message published.', 'a routed message is reported as published');
  await publish.getByLabel('Routing key').fill('nobody.listens');
  await publish.getByRole('button', { name: 'Publish message' }).click();
  await publish.locator('.result.warn').waitFor();
  check((await result.textContent()) === 'Message published, but not routed.', 'an unroutable message is reported as not routed');

  if (SCREENSHOTS) {
    await page.screenshot({ path: `${SCREENSHOTS}/exchange.png`, fullPage: true });
    await go('exchanges');
    await rowWith(page, EXCHANGE).waitFor();
    await page.screenshot({ path: `${SCREENSHOTS}/exchanges.png`, fullPage: true });
    await rowWith(page, EXCHANGE).getByRole('link', { name: EXCHANGE, exact: true }).click();
    await binding.waitFor();
  }

  await binding.getByRole('button', { name: /^Unbind/ }).click();
  await binding.waitFor({ state: 'detached' });
  check(true, 'the unbound binding leaves the list');
  await page.getByRole('button', { name: 'Delete this exchange' }).click();
  await page.locator('dialog.confirm button.danger').click();
  await page.waitForURL(/#\/exchanges$/);
  await page.locator('table.data tbody tr').filter({ hasText: EXCHANGE }).waitFor({ state: 'detached' });
  check(true, 'the deleted exchange leaves the list');
});
