// Admin › Permissions: what each user may configure, write and read in each vhost, and
// its topic permissions (which routing keys it may publish to or bind from a topic
// exchange); set and clear (administrators only; the section is not offered to others).

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

function topicForm(users, vhosts, done) {
  const form = h('form', { class: 'form', 'aria-labelledby': 'topic-form-title' },
    selectField('user', 'User', users),
    selectField('vhost', 'Virtual host', vhosts),
    textField('exchange', 'Topic exchange', { value: 'amq.topic', required: true }),
    textField('write', 'Write regexp (routing keys it may publish with)', { value: '.*' }),
    textField('read', 'Read regexp (routing keys it may bind with)', { value: '.*' }),
    h('p', null, h('button', { type: 'submit' }, 'Set topic permission')));
  return onSubmit(form, async (v) => {
    await api(path`/topic-permissions/${v.vhost}/${v.user}`, { method: 'PUT', body: { exchange: v.exchange, write: v.write, read: v.read } });
    notify(`Topic permission of ${v.user} on ${v.exchange} in ${v.vhost} set`);
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
  const topicSlot = h('section', { class: 'panel' });
  const topics = staticTable({
    caption: 'Topic permissions', empty: 'No topic permissions.',
    columns: [
      { label: 'User', key: 'user' }, { label: 'Virtual host', key: 'vhost' }, { label: 'Exchange', key: 'exchange' },
      { label: 'Write', key: 'write' }, { label: 'Read', key: 'read' },
      { label: 'Actions', cell: (p) => actionButton('Clear', `topic permissions of ${p.user} in ${p.vhost}`, async () => {
        if (!(await confirmAction(`Clear the topic permissions of “${p.user}” in “${p.vhost}”?`, { action: 'Clear' }))) return;
        await api(path`/topic-permissions/${p.vhost}/${p.user}`, { method: 'DELETE' });
        notify('Topic permissions cleared');
        timer.now();
      }) },
    ],
  });
  replace(main, h('h2', null, 'Permissions'), table.el, formSlot, h('h2', null, 'Topic permissions'), topics.el, topicSlot);
  timer = ctx.every(REFRESH_MS, async () => {
    const [perms, topicPerms, users, vhosts] = await Promise.all(['/permissions', '/topic-permissions', '/users?columns=name', '/vhosts?columns=name']
      .map((p) => api(p, { signal: ctx.signal })));
    table.update(perms);
    topics.update(topicPerms);
    // The form is rebuilt only when users or vhosts change, so what is typed stays.
    const u = users.map((x) => x.name);
    const v = vhosts.map((x) => x.name);
    if (JSON.stringify([u, v]) !== names) {
      names = JSON.stringify([u, v]);
      replace(formSlot, h('h3', { id: 'perm-form-title' }, 'Set permission'), permForm(u, v, () => timer.now()));
      replace(topicSlot, h('h3', { id: 'topic-form-title' }, 'Set topic permission'), topicForm(u, v, () => timer.now()));
    }
  });
}
