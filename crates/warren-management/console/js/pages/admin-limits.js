// Admin › Limits: vhost limits (max-connections, max-queues) and user limits
// (max-connections, max-channels); administrators set and clear them.

import { api, path, isAdmin, hasTag } from '../api.js';
import { h, fmtNum, notify, replace } from '../dom.js';
import { staticTable } from '../table.js';
import { REFRESH_MS } from '../refresh.js';
import { actionButton, onSubmit, selectField, textField, vhostNames } from '../forms.js';

const KINDS = {
  vhost: { api: 'vhost-limits', owner: 'vhost', label: 'Virtual host', names: ['max-connections', 'max-queues'] },
  user: { api: 'user-limits', owner: 'user', label: 'User', names: ['max-connections', 'max-channels'] },
};

function limitForm(k, owners, done) {
  const form = h('form', { class: 'form', 'aria-labelledby': `${k.owner}-limit-title` },
    selectField('owner', k.label, owners),
    selectField('name', 'Limit', k.names),
    textField('value', 'Value', { type: 'number', min: '-1', required: true }),
    h('p', null, h('button', { type: 'submit' }, 'Set limit')));
  return onSubmit(form, async (v) => {
    await api(`/${k.api}${path`/${v.owner}/${v.name}`}`, { method: 'PUT', body: { value: Number(v.value) } });
    notify(`${v.name} of ${v.owner} set to ${v.value}`);
    done();
  });
}

/** One row per limit from the API's `[{vhost|user, value: {name: n}}]`. */
const flatten = (k, list) => list.flatMap((e) => Object.entries(e.value || {}).map(([name, value]) => ({ owner: e[k.owner], name, value })));

function limitTable(k, write, done) {
  return staticTable({
    caption: `${k.label} limits`, empty: 'No limits.',
    columns: [
      { label: k.label, key: 'owner' }, { label: 'Limit', key: 'name' }, { label: 'Value', num: true, cell: (l) => fmtNum(l.value) },
      write && { label: 'Actions', cell: (l) => actionButton('Clear', `${l.name} of ${l.owner}`, async () => {
        await api(`/${k.api}${path`/${l.owner}/${l.name}`}`, { method: 'DELETE' });
        notify(`${l.name} of ${l.owner} cleared`);
        done();
      }) },
    ].filter(Boolean),
  });
}

/** The Limits section. */
export async function render(main, ctx) {
  const admin = isAdmin();
  const monitor = admin || hasTag('monitoring');
  let timer;
  const done = () => timer.now();
  const vhostTable = limitTable(KINDS.vhost, admin, done);
  const userTable = monitor ? limitTable(KINDS.user, admin, done) : null;
  replace(main, h('h2', null, 'Virtual host limits'), vhostTable.el, userTable && [h('h2', null, 'User limits'), userTable.el]);
  timer = ctx.every(REFRESH_MS, async () => {
    vhostTable.update(flatten(KINDS.vhost, await api('/vhost-limits', { signal: ctx.signal }).catch(() => [])));
    if (userTable) userTable.update(flatten(KINDS.user, await api('/user-limits', { signal: ctx.signal })));
  });
  if (admin) {
    const [vhosts, users] = await Promise.all([vhostNames(ctx.signal), api('/users?columns=name', { signal: ctx.signal })]);
    main.append(
      h('section', { class: 'panel' }, h('h3', { id: 'vhost-limit-title' }, 'Set a virtual host limit'), limitForm(KINDS.vhost, vhosts, done)),
      h('section', { class: 'panel' }, h('h3', { id: 'user-limit-title' }, 'Set a user limit'), limitForm(KINDS.user, users.map((u) => u.name), done)));
  }
}
