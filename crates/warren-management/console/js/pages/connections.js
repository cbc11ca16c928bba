// Connections: the list (client, user, vhost, channels, TLS, traffic) and one
// connection's page (details, client properties, its channels, force close with a
// reason, which the client receives as 320 CONNECTION_FORCED).

import { api, path, isAdmin, currentUser } from '../api.js';
import { h, dl, badge, fmtBytes, fmtNum, notify, confirmAction, replace } from '../dom.js';
import { dataTable, pagedList, staticTable } from '../table.js';
import { REFRESH_MS } from '../refresh.js';
import { onSubmit, textField } from '../forms.js';
import { channelColumns } from './channels.js';

/** The hash route of a connection's page. */
export const connectionHref = (name) => `#/connections/${encodeURIComponent(name)}`;

/** The product and version a client announced ('lapin 2.5.0'). */
export function clientOf(c) {
  const p = c.client_properties || {};
  return [p.product, p.version].filter(Boolean).join(' ') || p.platform || '';
}

const traffic = (c, key) => `${fmtBytes(c[`${key}_details`] ? c[`${key}_details`].rate : undefined)}/s`;

function columns(allVhosts) {
  return [
    allVhosts && { key: 'vhost', label: 'Virtual host' },
    { key: 'name', label: 'Name', cell: (c) => h('span', null, h('a', { href: connectionHref(c.name) }, c.name), c.user_provided_name && h('small', { class: 'sub' }, c.user_provided_name)) },
    { key: 'user', label: 'User' },
    { key: 'client', label: 'Client', sort: 'client_properties.product', cell: clientOf },
    { key: 'state', label: 'State' },
    { key: 'ssl', label: 'TLS', cell: (c) => (c.ssl ? badge('TLS', c.ssl_protocol || 'TLS') : '–') },
    { key: 'channels', label: 'Channels', num: true, cell: (c) => fmtNum(c.channels) },
    { key: 'recv', label: 'From client', num: true, sort: 'recv_oct_details.rate', cell: (c) => traffic(c, 'recv_oct') },
    { key: 'send', label: 'To client', num: true, sort: 'send_oct_details.rate', cell: (c) => traffic(c, 'send_oct') },
  ].filter(Boolean);
}

/** Whether the user may close `c`: an administrator any, a writer its own. */
export function mayClose(ctx, c) {
  return ctx.canWrite() && (isAdmin() || c.user === currentUser().name);
}

/** The document title. */
export const title = 'Connections';

/** `#/connections`, or `#/connections/NAME` for one connection's page. */
export default async function render(main, ctx) {
  if (ctx.params.length >= 1) return renderConnection(main, ctx, ctx.params[0]);
  const vhost = ctx.vhost;
  const listPath = vhost ? path`/vhosts/${vhost}/connections` : '/connections';
  const table = dataTable({
    caption: 'Connections', id: 'connections', columns: columns(!vhost), sort: 'name', rowKey: (c) => c.name,
    empty: 'No connections.', load: (state, signal) => pagedList(listPath, state, {}, signal),
  });
  replace(main, h('h1', null, 'Connections'), table.el);
  ctx.every(REFRESH_MS, () => table.reload(ctx.signal));
}

function closeForm(name) {
  const form = h('form', { class: 'form', 'aria-labelledby': 'close-title' },
    textField('reason', 'Reason', { value: 'Closed via management plugin', maxlength: 200 }),
    h('p', null, h('button', { type: 'submit', class: 'danger' }, 'Force close')));
  return onSubmit(form, async (v) => {
    if (!(await confirmAction(`Close the connection “${name}”? The client is told: ${v.reason}`, { action: 'Force close' }))) return;
    await api(path`/connections/${name}`, { method: 'DELETE', headers: { 'X-Reason': v.reason } });
    notify('Connection closed');
    location.hash = '#/connections';
  });
}

function propsTable(props) {
  const show = (v) => (v && typeof v === 'object'
    ? h('code', null, Object.entries(v).map(([k, x]) => `${k}: ${JSON.stringify(x)}`).join(', '))
    : String(v));
  const pairs = Object.entries(props || {}).map(([k, v]) => [k, show(v)]);
  return dl(pairs);
}

/** One connection's page. */
async function renderConnection(main, ctx, name) {
  const details = h('div');
  const props = h('div');
  const closeSlot = h('div');
  const chans = staticTable({ caption: 'Channels of this connection', empty: 'No channels.', columns: channelColumns(false) });
  let propsShown = '';
  replace(main, h('h1', null, 'Connection ', h('q', null, name)), details,
    h('h2', null, 'Channels'), chans.el, h('h2', null, 'Client properties'), props, closeSlot);
  ctx.every(REFRESH_MS, async () => {
    let c;
    try {
      c = await api(path`/connections/${name}`, { signal: ctx.signal });
    } catch (err) {
      if (err.status !== 404) throw err;
      replace(details, h('p', { class: 'notice' }, 'This connection is closed.'));
      replace(closeSlot);
      chans.update([]);
      return;
    }
    replace(details, dl([
      ['Client-provided name', c.user_provided_name || '–'], ['User', c.user], ['Virtual host', c.vhost],
      ['Client', clientOf(c) || '–'], ['Peer', `${c.peer_host}:${c.peer_port}`], ['Protocol', c.protocol],
      ['Authentication', c.auth_mechanism], ['Connected at', new Date(c.connected_at).toLocaleString()],
      ['State', c.state], ['TLS', c.ssl ? `${c.ssl_protocol} ${c.ssl_cipher || ''}` : 'no'],
      ['Heartbeat', `${c.timeout} s`], ['Frame max', `${fmtNum(c.frame_max)} bytes`], ['Channel limit', fmtNum(c.channel_max)],
      ['From client', `${traffic(c, 'recv_oct')} (${fmtBytes(c.recv_oct)} in all)`],
      ['To client', `${traffic(c, 'send_oct')} (${fmtBytes(c.send_oct)} in all)`],
    ]));
    const shown = JSON.stringify(c.client_properties);
    if (shown !== propsShown) {
      propsShown = shown;
      replace(props, propsTable(c.client_properties));
    }
    if (!closeSlot.firstChild && mayClose(ctx, c)) {
      replace(closeSlot, h('section', { class: 'panel' }, h('h2', { id: 'close-title' }, 'Close this connection'), closeForm(name)));
    }
    chans.update(await api(path`/connections/${name}/channels`, { signal: ctx.signal }));
  });
}
