// Admin › Users: the list (tags, vhosts, password), add or update a user (password,
// tags; an empty password keeps the current one), delete.

import { api, path, currentUser } from '../api.js';
import { h, badge, notify, confirmAction, field, replace } from '../dom.js';
import { staticTable } from '../table.js';
import { REFRESH_MS } from '../refresh.js';
import { actionButton, onSubmit, textField } from '../forms.js';

/** The tags RabbitMQ's management UI offers. */
const TAGS = ['administrator', 'monitoring', 'policymaker', 'management', 'impersonator'];

const tagList = (text) => String(text || '').split(',').map((t) => t.trim()).filter(Boolean);

function userForm(done) {
  const tags = h('input', { type: 'text', name: 'tags', autocomplete: 'off', placeholder: 'e.g. management, monitoring' });
  const addTag = (t) => { const have = tagList(tags.value); if (!have.includes(t)) tags.value = [...have, t].join(', '); };
  const form = h('form', { class: 'form', 'aria-labelledby': 'user-form-title' },
    textField('username', 'Username', { required: true, autocomplete: 'username' }),
    field('Password', h('input', { type: 'password', name: 'password', autocomplete: 'new-password' }), 'Leave empty when updating to keep the password.'),
    field('Tags', tags),
    h('p', { class: 'tag-buttons', role: 'group', 'aria-label': 'Add a tag' },
      'Set: ', TAGS.map((t) => h('button', { type: 'button', class: 'small link', onclick: () => addTag(t) }, t))),
    h('p', null, h('button', { type: 'submit' }, 'Add / update user')));
  onSubmit(form, async (v) => {
    const body = { tags: tagList(v.tags).join(',') };
    if (v.password) body.password = v.password;
    else {
      // Keep the password: send the stored hash back.
      const u = await api(path`/users/${v.username}`).catch(() => null);
      if (!u) throw new Error('A new user needs a password.');
      body.password_hash = u.password_hash;
      body.hashing_algorithm = u.hashing_algorithm;
    }
    await api(path`/users/${v.username}`, { method: 'PUT', body });
    notify(`User ${v.username} saved`);
    form.reset();
    done();
  });
  const edit = (u) => {
    form.elements.username.value = u.name;
    tags.value = u.tags.join(', ');
    form.elements.password.focus();
  };
  return { form, edit };
}

/** The Users section. */
export async function render(main, ctx) {
  let timer;
  const { form, edit } = userForm(() => timer.now());
  let perms = [];
  let latest = new Map();
  const table = staticTable({
    caption: 'Users', empty: 'No users.',
    columns: [
      { label: 'Name', key: 'name' },
      { label: 'Tags', cell: (u) => h('span', null, u.tags.map((t) => badge(t, 'tag', 'tag'))) },
      { label: 'Can access virtual hosts', cell: (u) => perms.filter((p) => p.user === u.name).map((p) => p.vhost).join(', ') || 'No access' },
      { label: 'Has password', cell: (u) => (u.password_hash ? 'yes' : 'no') },
      { label: 'Actions', cell: (u) => h('span', { class: 'actions' },
        actionButton('Edit', `user ${u.name}`, () => edit(latest.get(u.name) || u), 'secondary'),
        u.name !== currentUser().name && actionButton('Delete', `user ${u.name}`, async () => {
          if (!(await confirmAction(`Delete the user “${u.name}”?`, { action: 'Delete' }))) return;
          await api(path`/users/${u.name}`, { method: 'DELETE' });
          notify(`User ${u.name} deleted`);
          timer.now();
        })) },
    ],
  });
  replace(main, h('h2', null, 'Users'), table.el,
    h('section', { class: 'panel' }, h('h3', { id: 'user-form-title' }, 'Add / update a user'), form));
  timer = ctx.every(REFRESH_MS, async () => {
    const [users, p] = await Promise.all([api('/users', { signal: ctx.signal }), api('/permissions', { signal: ctx.signal })]);
    perms = p;
    latest = new Map(users.map((u) => [u.name, u]));
    table.update(users);
  });
}
