// A monitoring user (USER_NAME / USER_PASSWORD) sees Connections, a connection's page
// (CONNECTION), Exchanges, an exchange, Channels and every Admin section it is
// offered without a single button or form that writes.
import { check, run } from './lib.mjs';
import { rowWith, session } from './admin_lib.mjs';

const { USER_NAME, USER_PASSWORD, CONNECTION } = process.env;
/** Controls that write: any form or button in the page but sorting and paging. */
const WRITES = 'main form, main button:not(.sort):not(.pager button)';

run(async (context) => {
  const { page, go } = await session(context, USER_NAME, USER_PASSWORD);
  const noWrites = async (where) => {
    await page.waitForLoadState('networkidle');
    const found = await page.locator(WRITES).evaluateAll((els) => els.map((e) => `${e.tagName} ${e.textContent.trim().slice(0, 40)}`));
    check(found.length === 0, `${where}: no write controls ${found.length ? JSON.stringify(found) : ''}`);
  };
  await go('connections');
  await rowWith(page, CONNECTION).waitFor();
  await noWrites('connections');
  await rowWith(page, CONNECTION).getByRole('link').click();
  await page.getByRole('heading', { name: 'Client properties' }).waitFor();
  await page.locator('dl.details').first().waitFor();
  await noWrites('a connection\'s page');
  await go('exchanges');
  await rowWith(page, 'amq.direct').waitFor();
  await noWrites('exchanges');
  await go('exchanges/%2F/amq.direct');
  await page.locator('dl.details').first().waitFor();
  await noWrites('an exchange\'s page');
  await go('channels');
  await page.locator('table.data tbody tr:not(.empty)').first().waitFor();
  await noWrites('channels');
  await go('admin');
  const sections = await page.getByRole('navigation', { name: 'Admin sections' }).getByRole('link').allInnerTexts();
  check(['Users', 'Permissions', 'Definitions'].every((s) => !sections.includes(s)), `Admin offers only ${sections.join(', ')}`);
  for (const section of ['vhosts', 'policies', 'limits']) {
    await go(`admin/${section}`);
    await page.locator('table.data tbody tr:not(.empty)').first().waitFor();
    await noWrites(`Admin › ${section}`);
  }
});
