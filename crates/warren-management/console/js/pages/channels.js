// Channels: the list (mode, prefetch, unacked, consumers, rates) and one channel's page
// (details, its consumers, its message rates).

import { api, path } from '../api.js';
import { h, dl, badge, fmtNum, fmtRate, rateOf, replace } from '../dom.js';
import { dataTable, pagedList, staticTable } from '../table.js';
import { REFRESH_MS } from '../refresh.js';

/** The hash route of a channel's page. */
export const channelHref = (name) => `#/channels/${encodeURIComponent(name)}`;

const ms = (c, key) => fmtRate(rateOf(c.message_stats, key));
const mode = (c) => (c.confirm || c.transactional
  ? h('span', null, c.confirm && badge('C', 'confirm mode'), c.transactional && badge('T', 'transactional'))
  : '–');

/** The channel table's columns (also on a connection's page). */
export function channelColumns(allVhosts) {
  return [
    { key: 'name', label: 'Channel', cell: (c) => h('a', { href: channelHref(c.name) }, c.name) },
    allVhosts && { key: 'vhost', label: 'Virtual host' },
    { key: 'user', label: 'User' },
    { key: 'mode', label: 'Mode', sort: false, cell: mode, title: 'C: confirm mode, T: transactional' },
    { key: 'prefetch_count', label: 'Prefetch', num: true, cell: (c) => fmtNum(c.prefetch_count) },
    { key: 'messages_unacknowledged', label: 'Unacked', num: true, cell: (c) => fmtNum(c.messages_unacknowledged) },
    { key: 'messages_unconfirmed', label: 'Unconfirmed', num: true, cell: (c) => fmtNum(c.messages_unconfirmed) },
    { key: 'consumer_count', label: 'Consumers', num: true, cell: (c) => fmtNum(c.consumer_count) },
    { key: 'publish', label: 'Publish', num: true, sort: 'message_stats.publish_details.rate', cell: (c) => ms(c, 'publish') },
    { key: 'confirm_rate', label: 'Confirm', num: true, sort: 'message_stats.confirm_details.rate', cell: (c) => ms(c, 'confirm') },
    { key: 'deliver_get', label: 'Deliver / get', num: true, sort: 'message_stats.deliver_get_details.rate', cell: (c) => ms(c, 'deliver_get') },
    { key: 'ack', label: 'Ack', num: true, sort: 'message_stats.ack_details.rate', cell: (c) => ms(c, 'ack') },
  ].filter(Boolean);
}

/** The document title. */
export const title = 'Channels';

/** `#/channels`, or `#/channels/NAME` for one channel's page. */
export default async function render(main, ctx) {
  if (ctx.params.length >= 1) return renderChannel(main, ctx, ctx.params[0]);
  const vhost = ctx.vhost;
  const listPath = vhost ? path`/vhosts/${vhost}/channels` : '/channels';
  const table = dataTable({
    caption: 'Channels', id: 'channels', columns: channelColumns(!vhost), sort: 'name', rowKey: (c) => c.name,
    empty: 'No channels.', load: (state, signal) => pagedList(listPath, state, {}, signal),
  });
  replace(main, h('h1', null, 'Channels'), table.el);
  ctx.every(REFRESH_MS, () => table.reload(ctx.signal));
}

const RATES = ['publish', 'confirm', 'return_unroutable', 'deliver', 'deliver_no_ack', 'get', 'get_no_ack', 'redeliver', 'ack'];

/** One channel's page. */
async function renderChannel(main, ctx, name) {
  const details = h('div');
  const rates = h('div');
  const consumers = staticTable({
    caption: 'Consumers on this channel', empty: 'No consumers.',
    columns: [
      { label: 'Consumer tag', key: 'consumer_tag' },
      { label: 'Queue', cell: (x) => h('a', { href: `#/queues/${encodeURIComponent(x.queue.vhost)}/${encodeURIComponent(x.queue.name)}` }, x.queue.name) },
      { label: 'Ack required', cell: (x) => (x.ack_required ? 'yes' : 'no') },
      { label: 'Exclusive', cell: (x) => (x.exclusive ? 'yes' : 'no') },
      { label: 'Prefetch', num: true, cell: (x) => fmtNum(x.prefetch_count) },
      { label: 'Active', cell: (x) => (x.active ? 'yes' : 'waiting') },
    ],
  });
  replace(main, h('h1', null, 'Channel ', h('q', null, name)), details,
    h('h2', null, 'Consumers'), consumers.el, h('h2', null, 'Message rates'), rates);
  ctx.every(REFRESH_MS, async () => {
    let c;
    try {
      c = await api(path`/channels/${name}`, { signal: ctx.signal });
    } catch (err) {
      if (err.status !== 404) throw err;
      replace(details, h('p', { class: 'notice' }, 'This channel is closed.'));
      consumers.update([]);
      return;
    }
    const conn = c.connection_details.name;
    replace(details, dl([
      ['Connection', h('a', { href: `#/connections/${encodeURIComponent(conn)}` }, conn)],
      ['User', c.user], ['Virtual host', c.vhost], ['Mode', mode(c)], ['State', c.state],
      ['Prefetch count', fmtNum(c.prefetch_count)], ['Global prefetch count', fmtNum(c.global_prefetch_count)],
      ['Messages unacknowledged', fmtNum(c.messages_unacknowledged)], ['Messages unconfirmed', fmtNum(c.messages_unconfirmed)],
      ['Consumers', fmtNum(c.consumer_count)],
    ]));
    const m = c.message_stats || {};
    replace(rates, dl(RATES.filter((k) => k in m).map((k) => [k.replace(/_/g, ' '), `${ms(c, k)} (${fmtNum(m[k])} in all)`])));
    const all = await api(path`/consumers/${c.vhost}`, { signal: ctx.signal });
    consumers.update(all.filter((x) => x.channel_details && x.channel_details.name === c.name));
  });
}
