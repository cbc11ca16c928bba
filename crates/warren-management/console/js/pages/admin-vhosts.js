// Admin › Virtual hosts: the list (description, tags, messages), add (administrators),
// delete with confirmation.

import { api, path, isAdmin } from '../api.js';
import { h, badge, fmtNum, notify, confirmAction, replace } from '../dom.js';
import { staticTable } from '../table.js';
import { REFRESH_MS } from '../refresh.js';
import { actionButton, onSubmit, selectField, textField } from '../forms.js';

/** Tells the shell's vhost selector that the vhosts changed. */
const vhostsChanged = () => window.dispatchEvent(new CustomEvent('warren:vhosts-changed'));

function vhostForm(done) {
  const form = h('form', { class: 'form', 'aria-labelledby': 'vhost-form-title' },
    textField('name', 'Name', { required: true }),
    textField('description', 'Description'),
    textField('tags', 'Tags', { placeholder: 'comma separated' }),
    selectField('default_queue_type', 'Default queue type', ['classic', 'quorum', 'stream'], 'classic'),
    h('p', null, h('button', { type: 'submit' }, 'Add virtual host')));
  return onSubmit(form, async (v) => {
    await api(path`/vhosts/${v.name}`, { method: 'PUT', body: { description: v.description, tags: v.tags, default_queue_type: v.default_queue_type } });
    notify(`Virtual host ${v.name} added`);
    form.reset();
    done();
  });
}

/** The Virtual hosts section. */
export async function render(main, ctx) {
  const admin = isAdmin();
  let timer;
  const changed = () => { timer.now(); vhostsChanged(); };
  const table = staticTable({
    caption: 'Virtual hosts', empty: 'No virtual hosts.',
    columns: [
      { label: 'Name', key: 'name' },
      { label: 'Description', cell: (v) => v.description || '' },
      { label: 'Tags', cell: (v) => h('span', null, (v.tags || []).map((t) => badge(t, 'tag', 'tag'))) },
      { label: 'Default queue type', cell: (v) => v.default_queue_type || 'classic' },
      { label: 'Ready', num: true, cell: (v) => fmtNum(v.messages_ready) },
      { label: 'Unacked', num: true, cell: (v) => fmtNum(v.messages_unacknowledged) },
      { label: 'Total', num: true, cell: (v) => fmtNum(v.messages) },
      admin && { label: 'Actions', cell: (v) => actionButton('Delete', `virtual host ${v.name}`, async () => {
        if (!(await confirmAction(`Delete the virtual host “${v.name}” with all its queues, exchanges and messages?`, { action: 'Delete', typed: v.name }))) return;
        await api(path`/vhosts/${v.name}`, { method: 'DELETE' });
        notify(`Virtual host ${v.name} deleted`);
        changed();
      }) },
    ].filter(Boolean),
  });
  replace(main, h('h2', null, 'Virtual hosts'), table.el,
    admin && h('section', { class: 'panel' }, h('h3', { id: 'vhost-form-title' }, 'Add a new virtual host'), vhostForm(changed)));
  timer = ctx.every(REFRESH_MS, async () => table.update(await api('/vhosts', { signal: ctx.signal })));
}
