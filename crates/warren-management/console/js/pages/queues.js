// Queues: the server-side paged, sorted and filtered queue list (stays fast with
// 10,000 queues: the browser only ever holds one page), and a form to add a queue.
// `#/queues/VHOST/NAME` is one queue's page (queue.js).

import { api, path, canWrite } from '../api.js';
import { h, replace, field, fmtNum, fmtRate, badge, linkTo, notify, showError } from '../dom.js';
import { dataTable, pagedList } from '../table.js';
import { REFRESH_MS } from '../refresh.js';

export const title = 'Queues';

/** The columns the list asks for (the API trims each queue to them). */
const COLUMNS = [
  'name', 'vhost', 'type', 'state', 'durable', 'auto_delete', 'exclusive', 'arguments', 'policy',
  'effective_policy_definition', 'messages', 'messages_ready', 'messages_unacknowledged',
  'message_stats.publish_details.rate', 'message_stats.deliver_get_details.rate',
  'message_stats.ack_details.rate',
].join(',');

/** The feature badges of a queue, as RabbitMQ's UI shows them. */
export function features(q) {
  const args = q.arguments || {};
  const pol = q.effective_policy_definition || {};
  const has = (k) => args[`x-${k}`] !== undefined || pol[k] !== undefined;
  return h('span', { class: 'features' },
    q.durable ? badge('D', 'durable') : null,
    q.auto_delete ? badge('AD', 'auto-delete') : null,
    q.exclusive ? badge('Excl', 'exclusive') : null,
    has('message-ttl') ? badge('TTL', 'message TTL') : null,
    has('expires') ? badge('Exp', 'queue expires') : null,
    has('dead-letter-exchange') ? badge('DLX', 'dead-letter exchange') : null,
    has('max-length') || has('max-length-bytes') ? badge('Lim', 'length limit') : null,
    has('max-priority') ? badge('Pri', 'priorities') : null,
    args['x-single-active-consumer'] ? badge('SAC', 'single active consumer') : null,
    q.policy ? badge(q.policy, 'policy', 'policy') : null);
}

function rate(q, key) {
  const ms = q.message_stats;
  return ms && ms[`${key}_details`] ? fmtRate(ms[`${key}_details`].rate) : '–';
}

export default async function render(view, ctx) {
  if (ctx.params.length >= 2) {
    const page = await import('./queue.js');
    return page.default(view, ctx);
  }
  const columns = [
    ctx.vhost ? null : { label: 'Virtual host', key: 'vhost' },
    { label: 'Name', key: 'name', cell: (q) => linkTo(q.name, 'queues', q.vhost, q.name) },
    { label: 'Type', key: 'type' },
    { label: 'Features', sort: false, cell: features },
    { label: 'State', key: 'state', cell: (q) => h('span', { class: q.state === 'running' ? 'state-running' : 'state-other' }, q.state || '') },
    { label: 'Ready', key: 'messages_ready', num: true, cell: (q) => fmtNum(q.messages_ready) },
    { label: 'Unacked', key: 'messages_unacknowledged', num: true, cell: (q) => fmtNum(q.messages_unacknowledged) },
    { label: 'Total', key: 'messages', num: true, cell: (q) => fmtNum(q.messages) },
    { label: 'In', sort: 'message_stats.publish_details.rate', num: true, title: 'publish rate', cell: (q) => rate(q, 'publish') },
    { label: 'Out', sort: 'message_stats.deliver_get_details.rate', num: true, title: 'deliver and get rate', cell: (q) => rate(q, 'deliver_get') },
    { label: 'Ack', sort: 'message_stats.ack_details.rate', num: true, title: 'ack rate', cell: (q) => rate(q, 'ack') },
  ].filter(Boolean);
  const table = dataTable({
    id: 'queues', caption: 'Queues', columns, sort: 'name', empty: 'No queues.',
    load: (state, signal) => pagedList(ctx.vhost ? path`/queues/${ctx.vhost}` : '/queues', state, { columns: COLUMNS }, signal),
  });
  replace(view, h('h1', null, 'Queues'), table.el, canWrite() ? addForm(ctx, () => table.reload()) : null);
  ctx.every(REFRESH_MS, () => table.reload(ctx.signal));
}

/** The "Add a queue" form (write users only). */
function addForm(ctx, done) {
  const name = h('input', { name: 'name', required: true, maxlength: 255 });
  const vhost = h('select', { name: 'vhost' });
  const type = h('select', { name: 'type' }, ['classic', 'quorum', 'stream'].map((t) => h('option', { value: t }, t)));
  const durable = h('select', { name: 'durable' }, h('option', { value: 'true' }, 'Durable'), h('option', { value: 'false' }, 'Transient'));
  const args = h('textarea', { name: 'arguments', rows: 2, placeholder: '{"x-max-length": 1000}' });
  api('/vhosts?columns=name', { signal: ctx.signal }).then((vs) => {
    replace(vhost, vs.map((v) => h('option', { value: v.name, selected: v.name === (ctx.vhost || '/') }, v.name)));
  }).catch(showError);
  const form = h('form', { class: 'panel', id: 'add-queue', 'aria-labelledby': 'add-queue-title' },
    h('h2', { id: 'add-queue-title' }, 'Add a queue'),
    h('div', { class: 'inline-fields' }, field('Virtual host', vhost), field('Name', name), field('Type', type), field('Durability', durable)),
    field('Arguments (JSON)', args),
    h('p', null, h('button', { type: 'submit' }, 'Add queue')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    let argumentsJson = {};
    try {
      argumentsJson = args.value.trim() ? JSON.parse(args.value) : {};
    } catch {
      showError(new Error('Arguments must be a JSON object'));
      return;
    }
    if (type.value !== 'classic') argumentsJson['x-queue-type'] = type.value;
    try {
      await api(path`/queues/${vhost.value}/${name.value}`, {
        method: 'PUT', body: { durable: durable.value === 'true', auto_delete: false, arguments: argumentsJson },
      });
      notify(`Queue ${name.value} added`);
      name.value = '';
      await done();
    } catch (err) {
      showError(err);
    }
  });
  return form;
}
