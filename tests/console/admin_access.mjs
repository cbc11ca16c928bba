// Admin: add the user NEW_USER (password NEW_PASSWORD, tag management), the vhost
// NEW_VHOST, give the user every permission in it and a topic permission on amq.topic
// (publish only with routing keys matching TOPIC_WRITE), each seen in its table.
// SCREENSHOTS: a directory for the README's PNGs (Admin › Users).
import { check, run } from './lib.mjs';
import { rowWith, session } from './admin_lib.mjs';

const { NEW_USER, NEW_PASSWORD, NEW_VHOST, TOPIC_WRITE, SCREENSHOTS } = process.env;

run(async (context) => {
  const { page, go } = await session(context, 'guest', 'guest');
  await go('admin/users');
  const users = page.getByRole('form', { name: 'Add / update a user' });
  await users.getByLabel('Username').fill(NEW_USER);
  await users.getByLabel('Password').fill(NEW_PASSWORD);
  await users.getByRole('button', { name: 'management', exact: true }).click();
  check(await users.getByLabel('Tags').inputValue() === 'management', 'the tag button fills the tags field');
  await users.getByRole('button', { name: 'Add / update user' }).click();
  await rowWith(page, NEW_USER).waitFor();
  check((await rowWith(page, NEW_USER).textContent()).includes('No access'), 'the new user has no vhost yet');

  await go('admin/vhosts');
  const vhosts = page.getByRole('form', { name: 'Add a new virtual host' });
  await vhosts.getByLabel('Name').fill(NEW_VHOST);
  await vhosts.getByLabel('Description').fill('added in the browser');
  await vhosts.getByRole('button', { name: 'Add virtual host' }).click();
  await page.getByRole('table', { name: 'Virtual hosts' }).getByRole('cell', { name: NEW_VHOST, exact: true }).waitFor();
  await page.locator('#vhost-select option', { hasText: NEW_VHOST }).waitFor({ state: 'attached' });
  check(true, 'the new vhost is listed and offered in the vhost selector');

  await go('admin/permissions');
  const perms = page.getByRole('form', { name: 'Set permission' });
  await perms.getByLabel('User').selectOption(NEW_USER);
  await perms.getByLabel('Virtual host').selectOption(NEW_VHOST);
  await perms.getByRole('button', { name: 'Set permission' }).click();
  await page.getByRole('table', { name: 'Permissions' }).getByRole('row').filter({ hasText: NEW_USER }).filter({ hasText: NEW_VHOST }).waitFor();
  check(true, 'the permission is listed');
  const topic = page.getByRole('form', { name: 'Set topic permission' });
  await topic.getByLabel('User').selectOption(NEW_USER);
  await topic.getByLabel('Virtual host').selectOption(NEW_VHOST);
  await topic.getByLabel('Topic exchange').fill('amq.topic');
  await topic.getByLabel(/^Write regexp/).fill(TOPIC_WRITE);
  await topic.getByRole('button', { name: 'Set topic permission' }).click();
  await page.getByRole('table', { name: 'Topic permissions' }).getByRole('row').filter({ hasText: TOPIC_WRITE }).waitFor();
  check(true, 'the topic permission is listed');
  if (SCREENSHOTS) {
    await go('admin/users');
    await rowWith(page, NEW_USER).waitFor();
    await page.screenshot({ path: `${SCREENSHOTS}/admin.png`, fullPage: true });
  }
});
