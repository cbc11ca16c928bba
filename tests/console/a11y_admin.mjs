// Accessibility basics on the Exchanges, Connections, Channels and Admin pages: the
// Admin tabs and a force-close dialog work from the keyboard, every form control has a
// label, text contrast is at least 4.5:1, and at 390 px nothing scrolls sideways.
// Input (env): CONNECTION (a client-provided connection name).
import { PHONE, check, run } from './lib.mjs';
import { lowContrast, scrollWidth, unlabelled } from './a11y_lib.mjs';
import { rowWith, session } from './admin_lib.mjs';

const { CONNECTION } = process.env;

run(async (context) => {
  const { page, go } = await session(context, 'guest', 'guest');
  await go('connections');
  const link = rowWith(page, CONNECTION).getByRole('link');
  const connection = decodeURIComponent((await link.getAttribute('href')).replace('#/connections/', ''));
  const channel = `${connection} (1)`;
  const pages = ['exchanges', 'exchanges/%2F/amq.topic', 'connections', `connections/${encodeURIComponent(connection)}`,
    'channels', `channels/${encodeURIComponent(channel)}`, 'admin/users', 'admin/vhosts', 'admin/permissions',
    'admin/policies', 'admin/limits', 'admin/definitions'];
  const settle = async () => {
    await page.locator('table.data tbody tr, dl.details, form').first().waitFor();
    await page.waitForLoadState('networkidle');
  };

  for (const route of pages) {
    await go(route);
    await settle();
    const missing = await unlabelled(page);
    check(missing.length === 0, `#/${route}: every form control has a label ${missing.join(' ')}`);
    const { low, seen } = await lowContrast(page);
    check(seen > 10 && low.length === 0, `#/${route}: text contrast at least 4.5:1 (${seen} elements) ${low.slice(0, 5).join('; ')}`);
  }

  // Keyboard: the Admin tabs are links in the tab order; Enter opens a section.
  await go('admin/users');
  await page.locator('nav.tabs a', { hasText: 'Virtual hosts' }).focus();
  await page.keyboard.press('Tab');
  check(await page.locator('nav.tabs a:text-is("Permissions"):focus').count() === 1, 'Tab walks the Admin tabs');
  await page.keyboard.press('Enter');
  await page.getByRole('form', { name: 'Set permission' }).waitFor();
  check(page.url().endsWith('#/admin/permissions'), 'Enter on a tab opens its section');
  // Keyboard: Force close opens the confirmation; Escape cancels it and nothing closes.
  await go(`connections/${encodeURIComponent(connection)}`);
  const form = page.getByRole('form', { name: 'Close this connection' });
  await form.getByLabel('Reason').focus();
  await page.keyboard.press('Tab');
  await page.keyboard.press('Enter');
  await page.waitForSelector('dialog.confirm[open]');
  await page.keyboard.press('Escape');
  await page.waitForSelector('dialog.confirm', { state: 'detached' });
  await page.waitForTimeout(300);
  await go('connections');
  check(await rowWith(page, CONNECTION).count() === 1, 'Escape cancels a force close');

  await page.setViewportSize(PHONE);
  for (const route of pages) {
    await go(route);
    await settle();
    const width = await scrollWidth(page);
    check(width <= PHONE.width, `#/${route} at ${PHONE.width} px has no sideways scroll (content ${width} px)`);
  }
});
