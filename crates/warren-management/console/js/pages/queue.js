// One queue (`#/queues/VHOST/NAME`): details and a depth chart, consumers, bindings
// (add, remove), and for users who may write: publish, get messages (ack mode; body as
// text or base64), move messages to another queue, purge, delete.

import { api, path, canWrite } from '../api.js';
import {
  h, replace, updateDl, field, fmtNum, fmtRate, fmtBytes, rateOf, linkTo, hrefTo, notify, showError, confirmAction,
} from '../dom.js';
import { lineChart } from '../chart.js';
import { staticTable } from '../table.js';
import { REFRESH_MS } from '../refresh.js';
import { features } from './queues.js';
import { publishForm, getForm } from './queue-messages.js';

export const title = 'Queue';

export default async function render(view, ctx) {
  const [vhost, name] = ctx.params;
  const base = path`/queues/${vhost}/${name}`;
  const write = canWrite();
  const details = h('div', { id: 'queue-details' });
  const depth = lineChart({ title: 'Queued messages', series: ['Ready', 'Unacked', 'Total'], format: fmtNum, minMax: 10 });
  const rates = lineChart({ title: 'Message rates', series: ['In', 'Out', 'Ack'], format: fmtRate });
  const consumers = staticTable({
    caption: 'Consumers', empty: 'No consumers.',
    columns: [
      { label: 'Channel', cell: (c) => (c.channel_details ? linkTo(c.channel_details.name, 'channels', c.channel_details.name) : '') },
      { label: 'Consumer tag', key: 'consumer_tag' },
      { label: 'Ack required', cell: (c) => (c.ack_required ? 'yes' : 'no') },
      { label: 'Exclusive', cell: (c) => (c.exclusive ? 'yes' : 'no') },
      { label: 'Prefetch', num: true, cell: (c) => fmtNum(c.prefetch_count) },
      { label: 'Active', cell: (c) => (c.active === false ? 'waiting' : 'active') },
    ],
  });
  const bindings = staticTable({
    caption: 'Bindings', empty: 'No bindings.',
    columns: [
      { label: 'From', cell: (b) => (b.source ? linkTo(b.source, 'exchanges', b.vhost, b.source) : '(default exchange)') },
      { label: 'Routing key', key: 'routing_key' },
      { label: 'Arguments', cell: (b) => (b.arguments && Object.keys(b.arguments).length ? JSON.stringify(b.arguments) : '') },
      write ? { label: 'Action', cell: (b) => (b.source ? unbindButton(b, () => refreshBindings()) : '') } : null,
    ].filter(Boolean),
  });

  replace(view,
    h('p', { class: 'crumbs' }, h('a', { href: '#/queues' }, 'Queues'), ' › ', vhost),
    h('h1', null, 'Queue ', h('span', { id: 'queue-name' }, name)),
    h('div', { class: 'grid' },
      h('section', { class: 'panel', 'aria-labelledby': 'details-title' }, h('h2', { id: 'details-title' }, 'Details'), details),
      h('section', { class: 'panel' }, depth.el),
      h('section', { class: 'panel' }, rates.el)),
    h('section', { class: 'panel', 'aria-labelledby': 'consumers-title' }, h('h2', { id: 'consumers-title' }, 'Consumers'), consumers.el),
    h('section', { class: 'panel', 'aria-labelledby': 'bindings-title' }, h('h2', { id: 'bindings-title' }, 'Bindings'), bindings.el,
      write ? bindForm(vhost, name, () => refreshBindings()) : null),
    write ? h('div', { class: 'grid' }, publishForm(vhost, name, () => tick.now()), getForm(base, () => tick.now())) : null,
    write ? h('div', { class: 'grid' }, moveForm(vhost, name, () => tick.now()), dangerZone(ctx, base, vhost, name, () => tick.now())) : null);

  async function refreshBindings() {
    bindings.update(await api(`${base}/bindings`, { signal: ctx.signal }));
  }

  const tick = ctx.every(REFRESH_MS, async () => {
    let q;
    try {
      q = await api(base, { signal: ctx.signal });
    } catch (err) {
      if (err.status === 404) {
        replace(details, h('p', { class: 'alarm' }, 'This queue does not exist (any more).'));
        return;
      }
      throw err;
    }
    const ms = q.message_stats || {};
    updateDl(details, [
      ['Type', q.type], ['State', q.state], ['Features', features(q)],
      ['Policy', q.policy || '–'], ['Consumers', fmtNum(q.consumers)],
      ['Ready', h('span', { id: 'queue-ready' }, fmtNum(q.messages_ready))],
      ['Unacked', h('span', { id: 'queue-unacked' }, fmtNum(q.messages_unacknowledged))],
      ['Total', h('span', { id: 'queue-total' }, fmtNum(q.messages))],
      ['Message bytes', fmtBytes(q.message_bytes)],
      ['Arguments', Object.keys(q.arguments || {}).length ? JSON.stringify(q.arguments) : '–'],
      q.exclusive_consumer_tag ? ['Exclusive consumer', q.exclusive_consumer_tag] : null,
      q.single_active_consumer_tag ? ['Active consumer', q.single_active_consumer_tag] : null,
    ]);
    depth.push([q.messages_ready || 0, q.messages_unacknowledged || 0, q.messages || 0]);
    rates.push([rateOf(ms, 'publish') || 0, rateOf(ms, 'deliver_get') || 0, rateOf(ms, 'ack') || 0]);
    consumers.update(q.consumer_details || []);
    await refreshBindings();
  });
}

function unbindButton(b, done) {
  return h('button', {
    type: 'button', class: 'secondary unbind', 'aria-label': `Unbind from ${b.source} with key ${b.routing_key}`,
    onclick: async () => {
      try {
        await api(path`/bindings/${b.vhost}/e/${b.source}/q/${b.destination}/${b.properties_key}`, { method: 'DELETE' });
        notify('Binding removed');
        await done();
      } catch (err) {
        showError(err);
      }
    },
  }, 'Unbind');
}

function bindForm(vhost, queue, done) {
  const source = h('input', { name: 'source', required: true });
  const key = h('input', { name: 'routing_key' });
  const args = h('input', { name: 'arguments', placeholder: '{}' });
  const form = h('form', { class: 'inline', id: 'bind-form', 'aria-label': 'Add a binding' },
    field('From exchange', source), field('Routing key', key), field('Arguments (JSON)', args),
    h('button', { type: 'submit' }, 'Bind'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const argumentsJson = args.value.trim() ? JSON.parse(args.value) : {};
      await api(path`/bindings/${vhost}/e/${source.value}/q/${queue}`, {
        method: 'POST', body: { routing_key: key.value, arguments: argumentsJson },
      });
      notify(`Bound to ${source.value}`);
      key.value = '';
      await done();
    } catch (err) {
      showError(err instanceof SyntaxError ? new Error('Arguments must be a JSON object') : err);
    }
  });
  return h('div', null, h('h3', null, 'Add binding to this queue'), form);
}

function moveForm(vhost, name, done) {
  const to = h('input', { name: 'to', required: true, maxlength: 255 });
  const limit = h('input', { name: 'limit', type: 'number', min: 1, placeholder: 'all' });
  const dry = h('input', { type: 'checkbox', name: 'dry_run', id: 'move-dry-run' });
  const result = h('p', { id: 'move-result', role: 'status', 'aria-live': 'polite' });
  const form = h('form', { class: 'panel', id: 'move-form', 'aria-labelledby': 'move-title' },
    h('h2', { id: 'move-title' }, 'Move messages'),
    h('p', null, 'Sends this queue\'s ready messages to another queue in the same virtual host (a dead-letter queue replay).'),
    field('Destination queue', to), field('At most', limit),
    h('p', null, h('label', { class: 'inline', for: 'move-dry-run' }, dry, ' Dry run (count only)')),
    h('p', null, h('button', { type: 'submit' }, 'Move messages')), result);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const r = await api(path`/warren/queues/${vhost}/${name}/move`, {
        method: 'POST', body: { to: to.value, limit: limit.value ? Number(limit.value) : null, dry_run: dry.checked },
      });
      result.textContent = `${r.dry_run ? 'Would move' : 'Moved'} ${fmtNum(r.moved)} message(s)` +
        (r.skipped ? `, skipped ${fmtNum(r.skipped)}` : '') + '.';
      await done();
    } catch (err) {
      result.textContent = '';
      showError(err);
    }
  });
  return form;
}

function dangerZone(ctx, base, vhost, name, done) {
  const purge = h('button', {
    type: 'button', class: 'danger', id: 'purge',
    onclick: async () => {
      if (!(await confirmAction(`Purge every ready message from queue “${name}”?`, { action: 'Purge' }))) return;
      try {
        await api(`${base}/contents`, { method: 'DELETE' });
        notify(`Queue ${name} purged`);
        await done();
      } catch (err) {
        showError(err);
      }
    },
  }, 'Purge messages');
  const remove = h('button', {
    type: 'button', class: 'danger', id: 'delete-queue',
    onclick: async () => {
      if (!(await confirmAction(`Delete queue “${name}” and every message in it? This cannot be undone.`, { action: 'Delete' }))) return;
      try {
        await api(base, { method: 'DELETE' });
        notify(`Queue ${name} deleted`);
        ctx.go(hrefTo('queues'));
      } catch (err) {
        showError(err);
      }
    },
  }, 'Delete queue');
  return h('section', { class: 'panel', 'aria-labelledby': 'danger-title' },
    h('h2', { id: 'danger-title' }, 'Purge or delete'), h('p', { class: 'actions' }, purge, remove));
}
