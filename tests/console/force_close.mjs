// Connections page: open the connection whose client-provided name is CONNECTION,
// force-close it with REASON, confirm in the dialog, and see it leave the list.
// SCREENSHOTS: a directory for the README's PNGs (the list, with live traffic).
import { check, run, LAPTOP, PHONE } from './lib.mjs';
import { rowWith, session } from './admin_lib.mjs';

const { CONNECTION, REASON, SCREENSHOTS } = process.env;

run(async (context) => {
  const { page, go } = await session(context, 'guest', 'guest');
  await go('connections');
  if (SCREENSHOTS) {
    // Rates show from a connection's second sample on.
    const traffic = rowWith(page, CONNECTION).locator('td.num');
    for (let i = 0; i < 80 && (await traffic.allInnerTexts()).slice(-2).some((t) => t === '0 B/s'); i++) {
      await page.waitForTimeout(250);
    }
    await page.screenshot({ path: `${SCREENSHOTS}/connections.png`, fullPage: true });
    await page.setViewportSize(PHONE);
    await page.screenshot({ path: `${SCREENSHOTS}/connections-phone.png` });
    await page.setViewportSize(LAPTOP);
  }
  await rowWith(page, CONNECTION).getByRole('link').click();
  await page.getByRole('heading', { name: 'Client properties' }).waitFor();
  check((await page.locator('dl.details').first().textContent()).includes(CONNECTION), 'the connection page shows its client-provided name');
  const form = page.getByRole('form', { name: 'Close this connection' });
  await form.getByLabel('Reason').fill(REASON);
  await form.getByRole('button', { name: 'Force close' }).click();
  await page.locator('dialog.confirm button.danger').click();
  await page.waitForURL(/#\/connections$/);
  await page.locator('table.data tbody tr').filter({ hasText: CONNECTION }).waitFor({ state: 'detached' });
  check(true, 'the closed connection leaves the list');
});
