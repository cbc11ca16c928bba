// Accessibility basics on the Overview, Queues and Queue pages: the login form and the
// nav work from the keyboard, every form control has a label, text contrast is at
// least 4.5:1 (WCAG AA), and at 390 px (a phone) nothing makes the page scroll
// sideways (wide tables scroll inside their own box). Input (env): QUEUE.
import { BASE, PHONE, check, newPage, run } from './lib.mjs';

const { QUEUE } = process.env;
const PAGES = ['#/overview', '#/queues', `#/queues/${encodeURIComponent('/')}/${QUEUE}`];

function luminance([r, g, b]) {
  const lin = (c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

function ratio(fg, bg) {
  const [a, b] = [luminance(fg), luminance(bg)].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}

// Text colour and the first opaque background behind each element matching `selector`.
async function colours(page, selector) {
  return page.locator(selector).evaluateAll((els) => els.filter((el) => el.offsetParent !== null).map((el) => {
    const rgb = (s) => (s.match(/[\d.]+/g) || []).map(Number);
    const fg = rgb(getComputedStyle(el).color);
    let node = el;
    let bg = [255, 255, 255];
    while (node && node.nodeType === 1) {
      const c = rgb(getComputedStyle(node).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] === 1)) { bg = c.slice(0, 3); break; }
      node = node.parentElement;
    }
    return { text: el.textContent.trim().slice(0, 30), fg: fg.slice(0, 3), bg };
  }));
}

const TEXT = ['h1', 'h2', 'p', 'label', 'th', 'td', 'dt', 'dd', '#nav a', 'button', '.badge', '.table-status',
  '.legend-value', '.gauge-text', '#user', '.chart-axis .tick', 'a'];

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
    const unlabelled = await page.locator('input, select, textarea').evaluateAll((els) => els
      .filter((el) => el.type !== 'hidden' && !el.labels?.length && !el.getAttribute('aria-label'))
      .map((el) => el.outerHTML.slice(0, 80)));
    check(unlabelled.length === 0, `${hash}: every form control has a label ${unlabelled.join(' ')}`);
    const low = [];
    let seen = 0;
    for (const sel of TEXT) {
      for (const c of await colours(page, sel)) {
        if (!c.text) continue;
        seen += 1;
        const r = ratio(c.fg, c.bg);
        if (r < 4.5) low.push(`${sel} "${c.text}" ${r.toFixed(2)}:1`);
      }
    }
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
    const width = await page.locator('html').evaluate((el) => el.scrollWidth);
    check(width <= PHONE.width, `${hash} at ${PHONE.width} px has no sideways scroll (content ${width} px)`);
  }
});
