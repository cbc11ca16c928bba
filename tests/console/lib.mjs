// What every console browser test shares: launching Debian's chromium through
// playwright-core (never a downloaded browser), logging in, checks that fail loudly.
// A script is run by a Rust test (tests/console_browser*.rs) as
// `node tests/console/SCRIPT.mjs` with BASE_URL (the management listener) and its
// other inputs in the environment; it exits 0 when every check held, 1 otherwise.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

/** The system Chromium (Debian's package; tests/console/run.sh installs it). */
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

/** The management listener, e.g. http://127.0.0.1:15672. */
export const BASE = (process.env.BASE_URL || '').replace(/\/$/, '');

/** Laptop and phone viewports. */
export const LAPTOP = { width: 1366, height: 900 };
export const PHONE = { width: 390, height: 844 };

/** Launches headless Chromium with a fresh profile; returns {browser, close}. */
export async function launch() {
  const profile = mkdtempSync(join(tmpdir(), 'warren-console-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: LAPTOP,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--disable-quic',
    ],
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** A new page that fails the test on any uncaught page error. */
export async function newPage(context, viewport = LAPTOP) {
  const page = await context.newPage();
  await page.setViewportSize(viewport);
  page.on('pageerror', (err) => {
    pageErrors.push(err.message);
  });
  return page;
}

const pageErrors = [];

/** Logs in through the form (RabbitMQ's field names) and waits for the shell. */
export async function login(page, user, password) {
  await page.goto(`${BASE}/#/overview`);
  await page.fill('input[name=username]', user);
  await page.fill('input[name=password]', password);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('header#top:not([hidden])');
}

/** Fails the test with `message` unless `cond`. */
export function check(cond, message) {
  if (!cond) throw new Error(`check failed: ${message}`);
  console.log(`ok - ${message}`);
}

/** Runs a test body with a browser; exits 0 on success, 1 (with the error) on failure. */
export async function run(body) {
  if (!BASE) {
    console.error('BASE_URL is not set');
    process.exit(2);
  }
  let b;
  try {
    b = await launch();
    await body(b.context);
    if (pageErrors.length) throw new Error(`uncaught errors in the page: ${pageErrors.join('; ')}`);
    await b.close();
    process.exit(0);
  } catch (err) {
    console.error(err && err.stack ? err.stack : err);
    if (b) await b.close().catch(() => {});
    process.exit(1);
  }
}
