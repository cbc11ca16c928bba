// Logging in: a wrong password shows the API's error on the form and no console; the
// right one opens the shell (nav, the user's name and tags); logging out returns to
// the form, and a reload after logging in keeps the session (sessionStorage).
import { BASE, check, login, newPage, run } from './lib.mjs';

run(async (context) => {
  const page = await newPage(context);
  await page.goto(`${BASE}/`);
  await page.fill('input[name=username]', 'guest');
  await page.fill('input[name=password]', 'not-the-password');
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#login-status.error');
  const status = await page.textContent('#login-status');
  check(/Login failed/.test(status), `a wrong password shows "${status}"`);
  check(await page.isHidden('header#top'), 'no console is shown after a failed login');

  await login(page, 'guest', 'guest');
  check((await page.textContent('#user')).includes('guest (administrator)'), 'the header names the user and tags');
  const nav = await page.$$eval('#nav a', (as) => as.map((a) => a.textContent));
  check(nav.join(',') === 'Overview,Connections,Channels,Exchanges,Queues,Admin', `nav: ${nav.join(', ')}`);
  await page.waitForSelector('[data-page=overview] .totals li[data-total=queues]');

  await page.reload();
  await page.waitForSelector('header#top:not([hidden])');
  check(true, 'a reload keeps the session');

  await page.click('#logout');
  await page.waitForSelector('input[name=username]');
  check(await page.isHidden('header#top'), 'logging out returns to the login form');
  const stored = await page.evaluate(() => sessionStorage.getItem('warren.session'));
  check(stored === null, 'logging out forgets the credentials');
});
