// One exchange (`#/exchanges/VHOST/NAME`): details, the bindings from it and to it
// (add, remove), publish a message, delete with confirmation; and the helpers that show
// an exchange (link, features), which the list uses too.

import { api, path } from '../api.js';
import { h, dl, badge, notify, confirmAction, replace, showError } from '../dom.js';
import { staticTable } from '../table.js';
import { REFRESH_MS } from '../refresh.js';
import { actionButton, argsField, onSubmit, parseArgs, selectField, textField } from '../forms.js';

/** The name shown for the default exchange. */
export const exchangeLabel = (name) => (name === '' ? '(AMQP default)' : name);

/** The hash route of an exchange's page. */
export const exchangeHref = (vhost, name) => `#/exchanges/${encodeURIComponent(vhost)}/${encodeURIComponent(name === '' ? 'amq.default' : name)}`;

/** A link to an exchange's page. */
export const exchangeLink = (vhost, name) => h('a', { href: exchangeHref(vhost, name) }, exchangeLabel(name));

/** Feature badges: D durable, AD auto-delete, I internal, Args, and the policy. */
export function exchangeFeatures(x) {
  const args = Object.entries(x.arguments || {});
  return h('span', { class: 'features' },
    x.durable && badge('D', 'durable'),
    x.auto_delete && badge('AD', 'auto-delete'),
    x.internal && badge('I', 'internal'),
    args.length > 0 && badge('Args', args.map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(', ')),
    x.policy && badge(x.policy, 'policy', 'policy'));
}

const queueLink = (vhost, name) => h('a', { href: `#/queues/${encodeURIComponent(vhost)}/${encodeURIComponent(name)}` }, name);
/** The default exchange is `amq.default` in API paths. */
const urlName = (name) => (name === '' ? 'amq.default' : name);

function unbind(b, done) {
  const kind = b.destination_type === 'queue' ? 'q' : 'e';
  const what = `binding ${b.source || '(default)'} → ${b.destination} (${b.routing_key})`;
  return actionButton('Unbind', what, async () => {
    await api(path`/bindings/${b.vhost}/e/${b.source}/${kind}/${b.destination}/${b.properties_key}`, { method: 'DELETE' });
    notify('Binding removed');
    done();
  });
}

function bindingTable(side, write, done) {
  const other = side === 'source'
    ? { label: 'To', cell: (b) => h('span', null, b.destination_type === 'exchange' ? badge('E', 'exchange') : badge('Q', 'queue'), ' ', b.destination_type === 'queue' ? queueLink(b.vhost, b.destination) : exchangeLink(b.vhost, b.destination)) }
    : { label: 'From', cell: (b) => exchangeLink(b.vhost, b.source) };
  return staticTable({
    caption: side === 'source' ? 'Bindings from this exchange' : 'Bindings to this exchange',
    empty: 'No bindings.',
    columns: [other, { label: 'Routing key', key: 'routing_key' },
      { label: 'Arguments', cell: (b) => (Object.keys(b.arguments || {}).length ? JSON.stringify(b.arguments) : '') },
      write && { label: 'Actions', cell: (b) => (b.source === '' ? '' : unbind(b, done)) }].filter(Boolean),
  });
}

function bindForm(vhost, name, done) {
  const form = h('form', { class: 'form', 'aria-labelledby': 'bind-title' },
    selectField('kind', 'Destination type', [['q', 'Queue'], ['e', 'Exchange']], 'q'),
    textField('destination', 'Destination name', { required: true }),
    textField('routing_key', 'Routing key'),
    argsField('arguments', 'Arguments'),
    h('p', null, h('button', { type: 'submit' }, 'Bind')));
  return onSubmit(form, async (v) => {
    await api(path`/bindings/${vhost}/e/${name}/${v.kind}/${v.destination}`, {
      method: 'POST', body: { routing_key: v.routing_key, arguments: parseArgs(v.arguments) },
    });
    notify('Binding added');
    form.reset();
    done();
  });
}

/** The publish form for an exchange. */
export function publishForm(vhost, name) {
  const result = h('p', { class: 'result', role: 'status', 'aria-live': 'polite' });
  const form = h('form', { class: 'form', 'aria-labelledby': 'publish-title' },
    textField('routing_key', 'Routing key'),
    selectField('delivery_mode', 'Delivery mode', [['1', '1 – Non-persistent'], ['2', '2 – Persistent']], '2'),
    argsField('headers', 'Headers'),
    argsField('properties', 'Properties', 'content_type = text/plain\ncorrelation_id = 42'),
    h('div', { class: 'field' }, h('label', { for: 'publish-payload' }, 'Payload'), h('textarea', { id: 'publish-payload', name: 'payload', rows: 4, spellcheck: 'false' })),
    selectField('payload_encoding', 'Payload encoding', [['string', 'String'], ['base64', 'Base64']], 'string'),
    h('p', null, h('button', { type: 'submit' }, 'Publish message')), result);
  return onSubmit(form, async (v) => {
    const properties = { ...parseArgs(v.properties), delivery_mode: Number(v.delivery_mode) };
    const headers = parseArgs(v.headers);
    if (Object.keys(headers).length) properties.headers = headers;
    result.textContent = '';
    const r = await api(path`/exchanges/${vhost}/${urlName(name)}/publish`, {
      method: 'POST', body: { routing_key: v.routing_key, payload: v.payload, payload_encoding: v.payload_encoding, properties },
    });
    result.textContent = r.routed ? 'Message published.' : 'Message published, but not routed.';
    result.className = r.routed ? 'result ok' : 'result warn';
  });
}

/** The page of one exchange (`#/exchanges/VHOST/NAME`; the default exchange is `amq.default`). */
export async function renderExchange(main, ctx, vhost, urlNameParam) {
  const name = urlNameParam === 'amq.default' ? '' : urlNameParam;
  const write = ctx.canWrite();
  const base = path`/exchanges/${vhost}/${urlName(name)}`;
  const details = h('div');
  const src = bindingTable('source', write, () => timer.now());
  const dst = bindingTable('destination', write, () => timer.now());
  const builtin = name === '' || name.startsWith('amq.');
  const del = h('button', { type: 'button', class: 'danger', onclick: () => remove().catch(showError) }, 'Delete this exchange');
  async function remove() {
    if (!(await confirmAction(`Delete the exchange “${name}” and its bindings?`, { action: 'Delete' }))) return;
    await api(base, { method: 'DELETE' });
    notify(`Exchange ${name} deleted`);
    ctx.go('#/exchanges');
  }
  replace(main,
    h('h1', null, 'Exchange ', h('q', null, exchangeLabel(name)), h('small', null, ` in ${vhost}`)),
    details,
    h('h2', null, 'Bindings from this exchange'), src.el,
    write && name !== '' && h('section', { class: 'panel' }, h('h3', { id: 'bind-title' }, 'Add binding from this exchange'), bindForm(vhost, name, () => timer.now())),
    h('h2', null, 'Bindings to this exchange'), dst.el,
    write && h('section', { class: 'panel' }, h('h2', { id: 'publish-title' }, 'Publish message'), publishForm(vhost, name)),
    write && !builtin && h('section', { class: 'panel' }, h('h2', null, 'Delete'), h('p', null, del)));
  const timer = ctx.every(REFRESH_MS, async () => {
    let x, from, to;
    try {
      [x, from, to] = await Promise.all([
        api(base, { signal: ctx.signal }),
        api(`${base}/bindings/source`, { signal: ctx.signal }),
        api(`${base}/bindings/destination`, { signal: ctx.signal }),
      ]);
    } catch (err) {
      if (err.status !== 404) throw err;
      replace(details, h('p', { class: 'notice' }, 'This exchange does not exist (any more).'));
      src.update([]);
      dst.update([]);
      return;
    }
    replace(details, dl([['Type', x.type], ['Features', exchangeFeatures(x)], ['Policy', x.policy || '–'],
      ['Arguments', Object.keys(x.arguments || {}).length ? JSON.stringify(x.arguments) : '–']]));
    src.update(from);
    dst.update(to);
  });
}
