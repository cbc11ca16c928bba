// Admin › Definitions: export the broker's (or one vhost's) definitions as a
// downloaded JSON file (RabbitMQ's definitions.json); import a chosen file.

import { api, path } from '../api.js';
import { h, field, notify, replace } from '../dom.js';
import { onSubmit, selectField, vhostNames } from '../forms.js';

const scope = (vhosts) => selectField('vhost', 'Virtual host', [['', 'All virtual hosts'], ...vhosts.map((v) => [v, v])], '');
const apiPath = (vhost) => (vhost ? path`/definitions/${vhost}` : '/definitions');
const safe = (s) => s.replace(/[^A-Za-z0-9.-]+/g, '_');

/** The downloaded file's name: warren_<host>[_<vhost>]_<date>.json. */
function fileName(vhost) {
  return `warren_${safe(location.hostname)}${vhost ? `_${safe(vhost)}` : ''}_${new Date().toISOString().slice(0, 10)}.json`;
}

function exportForm(vhosts) {
  const form = h('form', { class: 'form', 'aria-labelledby': 'export-title' }, scope(vhosts),
    h('p', null, h('button', { type: 'submit' }, 'Download broker definitions')));
  return onSubmit(form, async (v) => {
    const defs = await api(apiPath(v.vhost));
    const url = URL.createObjectURL(new Blob([JSON.stringify(defs, null, 2)], { type: 'application/json' }));
    const a = h('a', { href: url, download: fileName(v.vhost), hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  });
}

function importForm(vhosts) {
  const result = h('p', { class: 'result', role: 'status', 'aria-live': 'polite' });
  const form = h('form', { class: 'form', 'aria-labelledby': 'import-title' },
    field('Definitions file', h('input', { type: 'file', name: 'file', accept: '.json,application/json', required: true })),
    scope(vhosts),
    h('p', null, h('button', { type: 'submit' }, 'Upload broker definitions')), result);
  return onSubmit(form, async (v) => {
    result.textContent = '';
    const text = await v.file.text();
    try {
      JSON.parse(text);
    } catch {
      throw new Error(`${v.file.name} is not a JSON document.`);
    }
    await api(apiPath(v.vhost), { method: 'POST', body: text });
    result.textContent = `Definitions from ${v.file.name} imported.`;
    result.className = 'result ok';
    notify('Definitions imported');
  });
}

/** The Definitions section. */
export async function render(main, ctx) {
  const vhosts = await vhostNames(ctx.signal);
  replace(main, h('h2', null, 'Definitions'),
    h('section', { class: 'panel' }, h('h3', { id: 'export-title' }, 'Export'),
      h('p', null, 'Users, virtual hosts, permissions, policies, limits, queues, exchanges and bindings as one JSON file, in RabbitMQ’s format.'),
      exportForm(vhosts)),
    h('section', { class: 'panel' }, h('h3', { id: 'import-title' }, 'Import'),
      h('p', null, 'Declares what the file lists; nothing is deleted. A file exported from RabbitMQ works.'),
      importForm(vhosts)));
}
