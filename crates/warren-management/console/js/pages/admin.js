// Admin (`#/admin`, `#/admin/SECTION`): users, virtual hosts, permissions, policies,
// limits and definitions, one module each. Sections the user may not read (users,
// permissions and definitions need `administrator`) are not offered.

import { isAdmin } from '../api.js';
import { h, replace } from '../dom.js';
import * as users from './admin-users.js';
import * as vhosts from './admin-vhosts.js';
import * as permissions from './admin-permissions.js';
import * as policies from './admin-policies.js';
import * as limits from './admin-limits.js';
import * as definitions from './admin-definitions.js';

const SECTIONS = [
  { id: 'users', label: 'Users', admin: true, page: users },
  { id: 'vhosts', label: 'Virtual hosts', admin: false, page: vhosts },
  { id: 'permissions', label: 'Permissions', admin: true, page: permissions },
  { id: 'policies', label: 'Policies', admin: false, page: policies },
  { id: 'limits', label: 'Limits', admin: false, page: limits },
  { id: 'definitions', label: 'Definitions', admin: true, page: definitions },
];

/** The document title. */
export const title = 'Admin';

/** `#/admin/SECTION` (the first section offered by default). */
export default async function render(main, ctx) {
  const offered = SECTIONS.filter((s) => !s.admin || isAdmin());
  const current = offered.find((s) => s.id === ctx.params[0]) || offered[0];
  const body = h('div', { class: 'admin-section' });
  replace(main, h('h1', null, 'Admin'),
    h('nav', { class: 'tabs', 'aria-label': 'Admin sections' },
      offered.map((s) => h('a', { href: `#/admin/${s.id}`, 'aria-current': s === current ? 'page' : null }, s.label))),
    body);
  await current.page.render(body, ctx);
}
