// The session and the API client. Credentials are checked against /api/whoami at
// login, kept in sessionStorage (gone when the tab closes) and sent as basic auth on
// every call. The user's tags decide which buttons pages show (canWrite, isAdmin);
// the API enforces the same rules, so a hidden button is a courtesy, not the guard.

const KEY = 'warren.session';
const VHOST_KEY = 'warren.vhost';

let session = load();

function load() {
  try {
    return JSON.parse(sessionStorage.getItem(KEY) || 'null');
  } catch {
    return null;
  }
}

/** The logged-in user: {name, tags: [..], auth} or null. */
export function currentUser() {
  return session;
}

/** Whether the user has `tag`. */
export function hasTag(tag) {
  return !!session && session.tags.includes(tag);
}

/** Administrator: users, vhosts, permissions, definitions. */
export function isAdmin() {
  return hasTag('administrator');
}

/** May this user change things (declare, publish, purge, delete, close)? A
 *  `monitoring` user only reads; `management` without `monitoring` writes where its
 *  permissions allow; `policymaker` and `administrator` write. Pages show no write
 *  buttons unless this is true. */
export function canWrite() {
  if (!session) return false;
  if (hasTag('administrator') || hasTag('policymaker')) return true;
  return hasTag('management') && !hasTag('monitoring');
}

/** The vhost chosen in the selector ('' = all vhosts). */
export function currentVhost() {
  return sessionStorage.getItem(VHOST_KEY) || '';
}

/** Chooses a vhost ('' = all). */
export function setVhost(name) {
  sessionStorage.setItem(VHOST_KEY, name);
}

/** An error answered by the API: `status` and the API's `reason` text. */
export class ApiError extends Error {
  constructor(status, reason) {
    super(reason);
    this.status = status;
    this.reason = reason;
  }
}

let onUnauthorised = () => {};
/** What to do when a call answers 401 with a session open (app.js: back to login). */
export function setUnauthorisedHandler(fn) {
  onUnauthorised = fn;
}

function basic(username, password) {
  const bytes = new TextEncoder().encode(`${username}:${password}`);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return 'Basic ' + btoa(bin);
}

/** Checks the credentials against /api/whoami; on success opens the session and
 *  returns the user, otherwise throws an ApiError with the API's reason. */
export async function login(username, password) {
  const auth = basic(username, password);
  const res = await fetch('/api/whoami', {
    headers: { Authorization: auth, 'X-Requested-With': 'XMLHttpRequest' },
    cache: 'no-store',
  });
  const body = await readBody(res);
  if (!res.ok) throw new ApiError(res.status, reasonOf(res, body));
  session = { name: body.name, tags: tagList(body.tags), auth };
  sessionStorage.setItem(KEY, JSON.stringify(session));
  return session;
}

/** Closes the session. */
export function logout() {
  session = null;
  sessionStorage.removeItem(KEY);
  sessionStorage.removeItem(VHOST_KEY);
}

function tagList(tags) {
  if (Array.isArray(tags)) return tags;
  return String(tags || '').split(',').map((t) => t.trim()).filter(Boolean);
}

async function readBody(res) {
  const text = await res.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function reasonOf(res, body) {
  if (body && typeof body === 'object' && (body.reason || body.error)) {
    return String(body.reason || body.error);
  }
  return `${res.status} ${res.statusText}`.trim();
}

/** Encodes interpolated values as path segments:
 *  path`/queues/${vhost}/${name}` -> '/queues/%2F/my%20q'. */
export function path(strings, ...values) {
  let out = strings[0];
  values.forEach((v, i) => {
    out += encodeURIComponent(String(v)) + strings[i + 1];
  });
  return out;
}

/** A query string from an object, skipping undefined/null/'' values: qs({page: 1}). */
export function qs(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** Calls the API: `api('/queues/%2F/q', {method: 'DELETE'})`. The path is under /api
 *  (build it with `path`); `body` is sent as JSON; `signal` aborts; `headers` adds
 *  request headers (`X-Reason` on a force close). Returns the parsed JSON (null for an
 *  empty answer). On an error answer throws ApiError with the API's
 *  reason; pages show it with `showError` (app.js does for uncaught ones). A 401 with
 *  a session open (password changed, user deleted) logs out. */
export async function api(apiPath, { method = 'GET', body, signal, headers: extra } = {}) {
  const headers = { ...extra, 'X-Requested-With': 'XMLHttpRequest' };
  if (session) headers.Authorization = session.auth;
  const init = { method, headers, signal, cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
  }
  const res = await fetch('/api' + apiPath, init);
  const parsed = await readBody(res);
  if (!res.ok) {
    const err = new ApiError(res.status, reasonOf(res, parsed));
    if (res.status === 401 && session && apiPath !== '/whoami') onUnauthorised(err);
    throw err;
  }
  return parsed;
}
