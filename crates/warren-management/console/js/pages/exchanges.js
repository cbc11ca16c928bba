// Exchanges: the list (type, features, policy), filtered, sorted and paged by the
// server, and the form that declares an exchange. `#/exchanges/VHOST/NAME` is one
// exchange's page (exchange.js).

import { api, path } from '../api.js';
import { h, notify, replace } from '../dom.js';
import { dataTable, pagedList } from '../table.js';
import { REFRESH_MS } from '../refresh.js';
import { argsField, onSubmit, parseArgs, selectField, textField, vhostNames } from '../forms.js';
import { exchangeFeatures, exchangeLink, renderExchange } from './exchange.js';

/** The document title. */
export const title = 'Exchanges';

function columns(allVhosts) {
  return [
    allVhosts && { key: 'vhost', label: 'Virtual host' },
    { key: 'name', label: 'Name', cell: (x) => exchangeLink(x.vhost, x.name) },
    { key: 'type', label: 'Type' },
    { key: 'features', label: 'Features', sort: false, cell: exchangeFeatures },
  ].filter(Boolean);
}

async function addForm(ctx, onDone) {
  const [vhosts, overview] = await Promise.all([vhostNames(ctx.signal), api('/overview?columns=exchange_types', { signal: ctx.signal })]);
  const types = (overview.exchange_types || []).map((t) => t.name);
  const form = h('form', { class: 'form', 'aria-labelledby': 'add-exchange-title' },
    selectField('vhost', 'Virtual host', vhosts, ctx.vhost || vhosts[0]),
    textField('name', 'Name', { required: true, maxlength: 255 }),
    selectField('type', 'Type', types, 'direct'),
    selectField('durable', 'Durability', [['true', 'Durable'], ['false', 'Transient']], 'true'),
    selectField('auto_delete', 'Auto delete', [['false', 'No'], ['true', 'Yes']], 'false'),
    selectField('internal', 'Internal', [['false', 'No'], ['true', 'Yes']], 'false'),
    argsField('arguments', 'Arguments'),
    h('p', null, h('button', { type: 'submit' }, 'Add exchange')));
  return onSubmit(form, async (v) => {
    await api(path`/exchanges/${v.vhost}/${v.name}`, {
      method: 'PUT',
      body: { type: v.type, durable: v.durable === 'true', auto_delete: v.auto_delete === 'true', internal: v.internal === 'true', arguments: parseArgs(v.arguments) },
    });
    notify(`Exchange ${v.name} declared`);
    form.reset();
    onDone();
  });
}

/** `#/exchanges`, or `#/exchanges/VHOST/NAME` for one exchange's page. */
export default async function render(main, ctx) {
  if (ctx.params.length >= 2) return renderExchange(main, ctx, ctx.params[0], ctx.params[1]);
  const vhost = ctx.vhost;
  const listPath = vhost ? path`/exchanges/${vhost}` : '/exchanges';
  const table = dataTable({
    caption: 'Exchanges', id: 'exchanges', columns: columns(!vhost), sort: 'name', empty: 'No exchanges.',
    load: (state, signal) => pagedList(listPath, state, {}, signal),
  });
  replace(main, h('h1', null, 'Exchanges'), table.el,
    h('p', { class: 'hint' }, 'Warren counts messages per queue and per channel, not per exchange (no shared counter on the publish path): message rates are on the Queues and Channels pages.'));
  const timer = ctx.every(REFRESH_MS, () => table.reload(ctx.signal));
  if (ctx.canWrite()) {
    const section = h('section', { class: 'panel' }, h('h2', { id: 'add-exchange-title' }, 'Add a new exchange'));
    main.append(section);
    section.append(await addForm(ctx, () => timer.now()));
  }
}
