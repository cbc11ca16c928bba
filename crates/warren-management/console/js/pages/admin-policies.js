// Admin › Policies: user policies (policymakers and administrators write them) and
// operator policies (administrators); add or update, delete.

import { api, path, isAdmin, hasTag } from '../api.js';
import { h, notify, confirmAction, replace } from '../dom.js';
import { staticTable } from '../table.js';
import { REFRESH_MS } from '../refresh.js';
import { actionButton, argsField, onSubmit, parseArgs, selectField, textField, vhostNames } from '../forms.js';

const KINDS = { policies: 'Policy', 'operator-policies': 'Operator policy' };
const APPLY_TO = [['all', 'Exchanges and queues'], ['queues', 'Queues'], ['exchanges', 'Exchanges']];

/** Policymakers and administrators write policies. */
const mayWrite = () => isAdmin() || hasTag('policymaker');

function policyForm(ctx, vhosts, done) {
  const kinds = Object.keys(KINDS).filter((k) => k === 'policies' || isAdmin());
  const form = h('form', { class: 'form', 'aria-labelledby': 'policy-form-title' },
    kinds.length > 1 ? selectField('kind', 'Kind', kinds.map((k) => [k, KINDS[k]]), 'policies') : h('input', { type: 'hidden', name: 'kind', value: 'policies' }),
    selectField('vhost', 'Virtual host', vhosts, ctx.vhost || vhosts[0]),
    textField('name', 'Name', { required: true }),
    textField('pattern', 'Pattern', { required: true, placeholder: '^orders\\.' }),
    selectField('apply-to', 'Apply to', APPLY_TO, 'all'),
    textField('priority', 'Priority', { type: 'number', value: '0' }),
    argsField('definition', 'Definition', 'max-length = 1000\nmessage-ttl = 60000'),
    h('p', null, h('button', { type: 'submit' }, 'Add / update policy')));
  return onSubmit(form, async (v) => {
    const definition = parseArgs(v.definition);
    if (!Object.keys(definition).length) throw new Error('A policy needs a definition.');
    await api(`/${v.kind}${path`/${v.vhost}/${v.name}`}`, {
      method: 'PUT', body: { pattern: v.pattern, 'apply-to': v['apply-to'], priority: Number(v.priority || 0), definition },
    });
    notify(`${KINDS[v.kind]} ${v.name} saved`);
    done();
  });
}

function policyTable(kind, write, done) {
  return staticTable({
    caption: kind === 'policies' ? 'Policies' : 'Operator policies', empty: 'No policies.',
    columns: [
      { label: 'Virtual host', key: 'vhost' }, { label: 'Name', key: 'name' }, { label: 'Pattern', key: 'pattern' },
      { label: 'Apply to', key: 'apply-to' },
      { label: 'Definition', cell: (p) => h('code', null, Object.entries(p.definition).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(', ')) },
      { label: 'Priority', num: true, key: 'priority' },
      write && { label: 'Actions', cell: (p) => actionButton('Delete', `${KINDS[kind].toLowerCase()} ${p.name} in ${p.vhost}`, async () => {
        if (!(await confirmAction(`Delete the ${KINDS[kind].toLowerCase()} “${p.name}”?`, { action: 'Delete' }))) return;
        await api(`/${kind}${path`/${p.vhost}/${p.name}`}`, { method: 'DELETE' });
        notify(`${KINDS[kind]} ${p.name} deleted`);
        done();
      }) },
    ].filter(Boolean),
  });
}

/** The Policies section. */
export async function render(main, ctx) {
  let timer;
  const done = () => timer.now();
  const user = policyTable('policies', mayWrite(), done);
  const operator = isAdmin() ? policyTable('operator-policies', true, done) : null;
  const suffix = ctx.vhost ? path`/${ctx.vhost}` : '';
  replace(main, h('h2', null, 'Policies'), user.el, operator && [h('h2', null, 'Operator policies'), operator.el]);
  timer = ctx.every(REFRESH_MS, async () => {
    user.update(await api(`/policies${suffix}`, { signal: ctx.signal }));
    if (operator) operator.update(await api(`/operator-policies${suffix}`, { signal: ctx.signal }));
  });
  if (mayWrite()) {
    const vhosts = await vhostNames(ctx.signal);
    main.append(h('section', { class: 'panel' }, h('h3', { id: 'policy-form-title' }, 'Add / update a policy'), policyForm(ctx, vhosts, done)));
  }
}
