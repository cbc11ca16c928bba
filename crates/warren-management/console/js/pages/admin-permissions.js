// Admin › Permissions: what each user may configure, write and read in each vhost;
// set and clear (administrators only; the section is not offered to others).

import { api, path } from '../api.js';
import { h, notify, confirmAction, replace } from '../dom.js';
import { staticTable } from '../table.js';
import { REFRESH_MS } from '../refresh.js';
import { actionButton, onSubmit, selectField, textField } from '../forms.js';

function permForm(users, vhosts, done) {
  const form = h('form', { class: 'form', 'aria-labelledby': 'perm-form-title' },
    selectField('user', 'User', users),
    selectField('vhost', 'Virtual host', vhosts),
    textField('configure', 'Configure regexp', { value: '.*' }),
    textField('write', 'Write regexp', { value: '.*' }),
    textField('read', 'Read regexp', { value: '.*' }),
    h('p', null, h('button', { type: 'submit' }, 'Set permission')));
  return onSubmit(form, async (v) => {
    await api(path`/permissions/${v.vhost}/${v.user}`, { method: 'PUT', body: { configure: v.configure, write: v.write, read: v.read } });
    notify(`Permissions of ${v.user} in ${v.vhost} set`);
    done();
  });
}

/** The Permissions section. */
export async function render(main, ctx) {
  let timer;
  const formSlot = h('section', { class: 'panel' });
  let names = '';
  const table = staticTable({
    caption: 'Permissions', empty: 'No permissions.',
    columns: [
      { label: 'User', key: 'user' }, { label: 'Virtual host', key: 'vhost' },
      { label: 'Configure', key: 'configure' }, { label: 'Write', key: 'write' }, { label: 'Read', key: 'read' },
      { label: 'Actions', cell: (p) => actionButton('Clear', `permissions of ${p.user} in ${p.vhost}`, async () => {
        if (!(await confirmAction(`Clear the permissions of “${p.user}” in “${p.vhost}”?`, { action: 'Clear' }))) return;
        await api(path`/permissions/${p.vhost}/${p.user}`, { method: 'DELETE' });
        notify('Permissions cleared');
        timer.now();
      }) },
    ],
  });
  replace(main, h('h2', null, 'Permissions'), table.el, formSlot);
  timer = ctx.every(REFRESH_MS, async () => {
    const [perms, users, vhosts] = await Promise.all(['/permissions', '/users?columns=name', '/vhosts?columns=name'].map((p) => api(p, { signal: ctx.signal })));
    table.update(perms);
    // The form is rebuilt only when users or vhosts change, so what is typed stays.
    const u = users.map((x) => x.name);
    const v = vhosts.map((x) => x.name);
    if (JSON.stringify([u, v]) !== names) {
      names = JSON.stringify([u, v]);
      replace(formSlot, h('h3', { id: 'perm-form-title' }, 'Set permission'), permForm(u, v, () => timer.now()));
    }
  });
}
