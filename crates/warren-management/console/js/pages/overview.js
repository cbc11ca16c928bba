// Overview: totals, message rates and queued messages over the last minutes, the
// node's memory and disk against their limits, uptime, listeners and alarms.

import { api } from '../api.js';
import { h, replace, updateDl, setContent, fmtNum, fmtRate, fmtBytes, fmtDuration, rateOf } from '../dom.js';
import { lineChart, gauge } from '../chart.js';
import { staticTable } from '../table.js';
import { REFRESH_MS } from '../refresh.js';

export const title = 'Overview';

// Kept while the console is open, so coming back shows the minutes already seen.
const rateHistory = [];
const queuedHistory = [];

export default async function render(view, ctx) {
  const totals = h('ul', { class: 'totals', 'aria-label': 'Totals' });
  const rates = lineChart({
    title: 'Message rates', series: ['Publish', 'Deliver', 'Ack', 'Redeliver'], format: fmtRate, points: rateHistory,
  });
  const queued = lineChart({
    title: 'Queued messages', series: ['Ready', 'Unacked'], format: fmtNum, points: queuedHistory, minMax: 10,
  });
  const alarms = h('div', { class: 'alarms', 'aria-live': 'polite' });
  const node = h('div');
  const nodeInfo = h('div');
  const gauges = h('div');
  const listeners = staticTable({
    caption: 'Listeners',
    columns: [
      { label: 'Protocol', key: 'protocol' },
      { label: 'Address', cell: (l) => l.ip_address },
      { label: 'Port', key: 'port', num: true },
    ],
  });
  replace(view,
    h('h1', null, 'Overview'),
    alarms,
    totals,
    h('div', { class: 'grid' }, h('section', { class: 'panel' }, rates.el), h('section', { class: 'panel' }, queued.el)),
    h('div', { class: 'grid' },
      h('section', { class: 'panel', 'aria-labelledby': 'node-title' }, h('h2', { id: 'node-title' }, 'Node'), node),
      h('section', { class: 'panel', 'aria-labelledby': 'listeners-title' }, h('h2', { id: 'listeners-title' }, 'Listeners'), listeners.el)));

  ctx.every(REFRESH_MS, async () => {
    const [o, nodes] = await Promise.all([
      api('/overview', { signal: ctx.signal }),
      api('/nodes', { signal: ctx.signal }).catch(() => []),
    ]);
    const ot = o.object_totals || {};
    const qt = o.queue_totals || {};
    const ms = o.message_stats || {};
    setContent(totals, [
      ['Connections', ot.connections], ['Channels', ot.channels], ['Exchanges', ot.exchanges],
      ['Queues', ot.queues], ['Consumers', ot.consumers], ['Messages', qt.messages],
    ].map(([label, n]) => h('li', { 'data-total': label.toLowerCase() }, h('span', { class: 'n' }, fmtNum(n)), label)));
    rates.push([rateOf(ms, 'publish') || 0, rateOf(ms, 'deliver_get') || 0, rateOf(ms, 'ack') || 0, rateOf(ms, 'redeliver') || 0]);
    queued.push([qt.messages_ready || 0, qt.messages_unacknowledged || 0]);
    listeners.update(o.listeners || []);
    const n = nodes[0];
    if (!n) {
      replace(node, h('p', null, 'Node details need the monitoring or administrator tag.'));
      replace(alarms);
      return;
    }
    const active = [];
    if (n.mem_alarm) active.push('Memory alarm: publishers are blocked until memory use falls below the watermark.');
    if (n.disk_free_alarm) active.push('Disk alarm: free disk space is below the limit; publishers are blocked.');
    setContent(alarms, active.map((t) => h('p', { class: 'alert alert-error' }, t)));
    if (!node.contains(nodeInfo)) replace(node, nodeInfo, gauges);
    updateDl(nodeInfo, [['Name', n.name], ['Version', `${o.product_name || 'Warren'} ${o.product_version || ''}`],
      ['Uptime', fmtDuration(n.uptime)], ['File descriptors', `${fmtNum(n.fd_used)} of ${fmtNum(n.fd_total)}`]]);
    setContent(gauges, [
      gauge({ label: 'Memory (vs high watermark)', used: n.mem_used, limit: n.mem_limit, format: fmtBytes, alarm: n.mem_alarm }),
      gauge({
        label: 'Disk free (vs limit)', used: n.disk_free_limit, limit: n.disk_free, alarm: n.disk_free_alarm,
        text: `${fmtBytes(n.disk_free)} free, limit ${fmtBytes(n.disk_free_limit)}`,
      })]);
  });
}
