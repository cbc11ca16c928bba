// What the Connections, Exchanges and Admin scripts share on top of lib.mjs: opening a
// logged-in page and going to a route once its heading is shown.
import { BASE, login, newPage } from './lib.mjs';

/** A page logged in as `user`; `go(route)` opens `#/route` and waits for its heading. */
export async function session(context, user, password, viewport) {
  const page = await newPage(context, viewport);
  page.setDefaultTimeout(30_000); // CI runs these beside a loaded debug build
  await login(page, user, password);
  const go = async (route) => {
    await page.goto(`${BASE}/#/${route}`);
    await page.locator('main h1').first().waitFor();
  };
  return { page, go };
}

/** The row of a data table that mentions `text` (the first, if several do). */
export const rowWith = (page, text) => page.locator('table.data tbody tr').filter({ hasText: text }).first();
