// Admin changes and removals: give USER the monitoring tag without touching its
// password; set the vhost limit max-queues MAX_QUEUES on "/"; set and clear a user
// limit; add the operator policy OPERATOR_POLICY; delete the policy POLICY, USER's
// permissions in "/", the vhost VHOST (typed confirmation) and the user DOOMED. Each
// change is seen in its table.
import { check, run } from './lib.mjs';
import { rowWith, session } from './admin_lib.mjs';

const { USER, MAX_QUEUES, POLICY, OPERATOR_POLICY, VHOST, DOOMED } = process.env;

run(async (context) => {
  const { page, go } = await session(context, 'guest', 'guest');
  const confirm = () => page.locator('dialog.confirm button.danger').click();
  const gone = (table, text) => page.getByRole('table', { name: table }).getByRole('row').filter({ hasText: text }).waitFor({ state: 'detached' });

  await go('admin/users');
  await page.getByRole('button', { name: `Edit user ${USER}` }).click();
  const form = page.getByRole('form', { name: 'Add / update a user' });
  check(await form.getByLabel('Username').inputValue() === USER, 'Edit fills in the user');
  await form.getByRole('button', { name: 'monitoring', exact: true }).click();
  await form.getByRole('button', { name: 'Add / update user' }).click();
  await rowWith(page, USER).getByText('monitoring').waitFor();
  check(true, 'the user is listed with the added tag');
  await page.getByRole('button', { name: `Delete user ${DOOMED}` }).click();
  await confirm();
  await gone('Users', DOOMED);
  check(true, 'the deleted user leaves the list');

  await go('admin/limits');
  const vhostLimit = page.getByRole('form', { name: 'Set a virtual host limit' });
  await vhostLimit.getByLabel('Virtual host').selectOption('/');
  await vhostLimit.getByLabel('Limit').selectOption('max-queues');
  await vhostLimit.getByLabel('Value').fill(MAX_QUEUES);
  await vhostLimit.getByRole('button', { name: 'Set limit' }).click();
  await page.getByRole('table', { name: 'Virtual host limits' }).getByRole('row').filter({ hasText: 'max-queues' }).waitFor();
  const userLimit = page.getByRole('form', { name: 'Set a user limit' });
  await userLimit.getByLabel('User').selectOption(USER);
  await userLimit.getByLabel('Limit').selectOption('max-channels');
  await userLimit.getByLabel('Value').fill('3');
  await userLimit.getByRole('button', { name: 'Set limit' }).click();
  const userRow = page.getByRole('table', { name: 'User limits' }).getByRole('row').filter({ hasText: 'max-channels' });
  await userRow.waitFor();
  await userRow.getByRole('button', { name: `Clear max-channels of ${USER}` }).click();
  await userRow.waitFor({ state: 'detached' });
  check(true, 'limits are set and cleared');

  await go('admin/policies');
  await page.getByRole('button', { name: `Delete policy ${POLICY} in /` }).click();
  await confirm();
  await gone('Policies', POLICY);
  check(true, 'the deleted policy leaves the list');
  const policy = page.getByRole('form', { name: 'Add / update a policy' });
  await policy.getByLabel('Kind').selectOption('operator-policies');
  await policy.getByLabel('Name').fill(OPERATOR_POLICY);
  await policy.getByLabel('Pattern').fill('.*');
  await policy.getByLabel('Apply to').selectOption('queues');
  await policy.getByLabel('Definition').fill('max-length = 100');
  await policy.getByRole('button', { name: 'Add / update policy' }).click();
  await page.getByRole('table', { name: 'Operator policies' }).getByRole('row').filter({ hasText: OPERATOR_POLICY }).waitFor();
  check(true, 'the operator policy is listed');

  await go('admin/permissions');
  await page.getByRole('button', { name: `Clear permissions of ${USER} in /` }).click();
  await confirm();
  await gone('Permissions', USER);
  check(true, 'the cleared permission leaves the list');

  await go('admin/vhosts');
  await page.getByRole('button', { name: `Delete virtual host ${VHOST}` }).click();
  const ok = page.locator('dialog.confirm button.danger');
  check(await ok.isDisabled(), 'deleting a vhost waits for its name to be typed');
  await page.locator('dialog.confirm input').fill(VHOST);
  await ok.click();
  await page.getByRole('table', { name: 'Virtual hosts' }).getByRole('cell', { name: VHOST, exact: true }).waitFor({ state: 'detached' });
  check(true, 'the deleted vhost leaves the list');
});
