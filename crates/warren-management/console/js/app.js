// The console's shell: login, the nav bar, the vhost selector and hash routing.
// `#/SECTION/A/B` loads the module `pages/SECTION.js` and calls its default export
// `render(view, ctx)` with ctx.params = ['A', 'B'] (decoded). See README.md.

import {
  api, canWrite, currentUser, currentVhost, isAdmin, hasTag, login, logout, setUnauthorisedHandler, setVhost,
} from './api.js';
import { h, replace, showError, clearAlerts } from './dom.js';
import { createScope } from './refresh.js';

/** The sections in the nav bar: [route, label, shown?]. */
const SECTIONS = [
  ['overview', 'Overview'],
  ['connections', 'Connections'],
  ['channels', 'Channels'],
  ['exchanges', 'Exchanges'],
  ['queues', 'Queues'],
  ['admin', 'Admin', () => isAdmin() || hasTag('policymaker')],
];

const main = document.getElementById('main');
const header = document.getElementById('top');
const nav = document.getElementById('nav');
const vhostSelect = document.getElementById('vhost-select');
let scope = null;
let renderSeq = 0;

/** The current route: {section, params}. */
export function currentRoute() {
  const raw = location.hash.replace(/^#\/?/, '');
  const parts = raw.split('/').filter((p, i) => i === 0 || p !== '').map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  return { section: parts[0] || 'overview', params: parts.slice(1) };
}

function showLogin(message) {
  if (scope) scope.leave();
  scope = null;
  header.hidden = true;
  clearAlerts();
  const form = document.getElementById('login-template').content.cloneNode(true);
  replace(main, form);
  const status = document.getElementById('login-status');
  if (message) status.textContent = message;
  document.getElementById('login-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const data = new FormData(e.target);
    status.textContent = 'Logging in…';
    status.className = '';
    try {
      await login(String(data.get('username')), String(data.get('password')));
      if (!location.hash || location.hash === '#/login') history.replaceState(null, '', '#/overview');
      await start(true);
    } catch (err) {
      status.className = 'error';
      status.textContent = err.status === 401 ? `Login failed: ${err.reason}` : `Cannot log in: ${err.reason || err.message}`;
    }
  });
  document.getElementById('login-username').focus();
}

/** Shows the console for the logged-in user; `focus`: move focus to the page content
 *  (after the login form, whose fields are gone). */
async function start(focus = false) {
  const user = currentUser();
  header.hidden = false;
  document.getElementById('user').textContent = `${user.name}${user.tags.length ? ` (${user.tags.join(', ')})` : ''}`;
  document.body.classList.toggle('read-only', !canWrite());
  replace(nav, SECTIONS.filter(([, , shown]) => !shown || shown()).map(([route, label]) =>
    h('a', { href: `#/${route}`, 'data-section': route }, label)));
  await loadVhosts();
  await route(focus);
}

async function loadVhosts() {
  let names = [];
  try {
    names = (await api('/vhosts?columns=name')).map((v) => v.name).sort();
  } catch (err) {
    showError(err);
  }
  const chosen = currentVhost();
  if (chosen && !names.includes(chosen)) setVhost('');
  replace(vhostSelect, h('option', { value: '' }, 'All'),
    names.map((n) => h('option', { value: n, selected: n === currentVhost() }, n)));
}

// Admin › Virtual hosts announces added and deleted vhosts, so the selector follows.
window.addEventListener('warren:vhosts-changed', () => loadVhosts());

vhostSelect.addEventListener('change', () => {
  setVhost(vhostSelect.value);
  route(false);
});

document.getElementById('logout').addEventListener('click', () => {
  logout();
  location.hash = '#/overview';
  showLogin('Logged out.');
});

async function route(focus) {
  if (!currentUser()) {
    showLogin();
    return;
  }
  const seq = ++renderSeq;
  if (scope) scope.leave();
  clearAlerts();
  const { section, params } = currentRoute();
  for (const a of nav.querySelectorAll('a')) {
    if (a.dataset.section === section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const known = SECTIONS.some(([r]) => r === section);
  const view = h('div', { class: 'page', 'data-page': section });
  replace(main, view);
  if (!known) {
    replace(view, h('h1', null, 'Not found'), h('p', null, `No page “${section}”.`));
    return;
  }
  let page;
  try {
    page = await import(`./pages/${section}.js`);
  } catch (err) {
    replace(view, h('h1', null, 'Unavailable'), h('p', null, `The ${section} page could not be loaded.`));
    console.warn(err);
    return;
  }
  if (seq !== renderSeq) return;
  scope = createScope();
  const ctx = {
    params,
    vhost: currentVhost(),
    signal: scope.signal,
    every: scope.every,
    onLeave: scope.onLeave,
    go: (hash) => { location.hash = hash; },
    canWrite,
  };
  document.title = `${page.title || section} · Warren`;
  try {
    await page.default(view, ctx);
  } catch (err) {
    if (err.name !== 'AbortError') showError(err);
  }
  if (focus) main.focus({ preventScroll: true });
}

setUnauthorisedHandler(async () => {
  // A 401 is also "not allowed" (RabbitMQ's answer to a forbidden action): log out only
  // when the credentials themselves no longer work.
  try {
    await api('/whoami');
  } catch (err) {
    if (err.status === 401) {
      logout();
      showLogin('Your session ended: please log in again.');
    }
  }
});

window.addEventListener('hashchange', () => route(true));

if (currentUser()) start();
else showLogin();
