// Accessibility basics on the Overview, Queues and Queue pages: the login form and the
// nav work from the keyboard, every form control has a label, text contrast is at
// least 4.5:1 (WCAG AA), and at 390 px (a phone) nothing makes the page scroll
// sideways (wide tables scroll inside their own box). Input (env): QUEUE.
import { BASE, PHONE, check, newPage, run } from './lib.mjs';
import { TEXT, lowContrast, scrollWidth, unlabelled } from './a11y_lib.mjs';

const { QUEUE } = process.env;
const PAGES = ['#/overview', '#/queues', `#/queues/${encodeURIComponent('/')}/${QUEUE}`];

// The shared text list, plus the Overview's chart and gauge labels.
const TEXT_HERE = [...TEXT, '.legend-value', '.gauge-text', '.chart-axis .tick'];

run(async (context) => {
  const page = await newPage(context);
  await page.goto(`${BASE}/`);
  // Keyboard only: the username field has focus; Tab to the password; Enter submits.
  await page.waitForSelector('input[name=username]:focus');
  await page.keyboard.type('guest');
  await page.keyboard.press('Tab');
  check(await page.locator('input[name=password]:focus').count() === 1, 'Tab moves from username to password');
  await page.keyboard.type('guest');
  await page.keyboard.press('Enter');
  await page.waitForSelector('header#top:not([hidden])');
  check(true, 'Enter logs in');
  await page.waitForSelector('.totals li');
  check(await page.locator('main:focus').count() === 1, 'after login, focus is on the page content');
  await page.reload();
  await page.waitForSelector('.totals li');
  await page.keyboard.press('Tab');
  check(await page.locator('a.skip:focus').count() === 1, 'the first Tab reaches "Skip to content"');
  await page.keyboard.press('Tab');
  check(await page.locator('#nav a:text-is("Overview"):focus').count() === 1, 'the next Tab reaches the nav');
  for (let i = 0; i < 4; i++) await page.keyboard.press('Tab');
  check(await page.locator('#nav a:text-is("Queues"):focus').count() === 1, 'Tab walks the nav to Queues');
  await page.keyboard.press('Enter');
  await page.waitForSelector('[data-page=queues] table.data tbody tr td a');
  check(page.url().endsWith('#/queues'), 'Enter on a nav link opens its page');
  check(await page.locator('main:focus').count() === 1, 'opening a page moves focus to its content');
  await page.keyboard.press('Tab');
  check(await page.locator('#queues-filter:focus').count() === 1, 'the next Tab reaches the filter box');

  for (const hash of PAGES) {
    await page.goto(`${BASE}/${hash}`);
    await page.waitForSelector('main .page h1');
    await page.waitForSelector('table.data tbody tr, .totals li');
    const bare = await unlabelled(page);
    check(bare.length === 0, `${hash}: every form control has a label ${bare.join(' ')}`);
    const { low, seen } = await lowContrast(page, TEXT_HERE);
    check(seen > 10 && low.length === 0, `${hash}: text contrast at least 4.5:1 (${seen} elements) ${low.slice(0, 5).join('; ')}`);
  }

  // Keyboard on the queue page: Purge opens the dialog, Escape cancels it.
  await page.locator('#purge').focus();
  await page.keyboard.press('Enter');
  await page.waitForSelector('dialog.confirm[open]');
  await page.keyboard.press('Escape');
  await page.waitForSelector('dialog.confirm', { state: 'detached' });
  check(await page.locator('#queue-total:text-is("1")').count() === 1, 'Escape cancels the purge');

  await page.setViewportSize(PHONE);
  for (const hash of PAGES) {
    await page.goto(`${BASE}/${hash}`);
    await page.waitForSelector('main .page h1');
    await page.waitForSelector('table.data tbody tr, .totals li');
    const width = await scrollWidth(page);
    check(width <= PHONE.width, `${hash} at ${PHONE.width} px has no sideways scroll (content ${width} px)`);
  }
});
