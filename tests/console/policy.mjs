// Admin › Policies: add the policy POLICY (queues matching PATTERN, max-length
// MAX_LENGTH) and see it listed with its definition.
import { check, run } from './lib.mjs';
import { rowWith, session } from './admin_lib.mjs';

const { POLICY, PATTERN, MAX_LENGTH } = process.env;

run(async (context) => {
  const { page, go } = await session(context, 'guest', 'guest');
  await go('admin/policies');
  const form = page.getByRole('form', { name: 'Add / update a policy' });
  await form.getByLabel('Name').fill(POLICY);
  await form.getByLabel('Pattern').fill(PATTERN);
  await form.getByLabel('Apply to').selectOption('queues');
  await form.getByLabel('Definition').fill(`max-length = ${MAX_LENGTH}`);
  await form.getByRole('button', { name: 'Add / update policy' }).click();
  await rowWith(page, POLICY).waitFor();
  check((await rowWith(page, POLICY).textContent()).includes(`max-length: ${MAX_LENGTH}`), 'the policy is listed with its definition');
});
