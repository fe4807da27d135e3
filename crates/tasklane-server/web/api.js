// The HTTP API and the session. The access token lives only in this module's memory; the
// refresh token in the tab's sessionStorage, so a reload keeps the session, closing the tab ends
// it, and no other tab shares it (refresh rotates: two tabs spending one token would look like
// theft, and the server would revoke the session; see `claimTab` for duplicated tabs).

const BASE = '/api/v1';
const REFRESH_KEY = 'tasklane.refresh_token';
/** Refresh this long before the access token expires, so requests rarely meet a 401. */
const EARLY_MS = 30_000;

/** An answer other than 2xx/304: carries the problem+json body. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.code = problem.code;
    this.problem = problem;
  }
}

let access = null;
let accessExpiresAt = 0;
let refreshing = null;
let currentUser = null;
/** Bumped by sign-out: a refresh begun before it does not bring the session back. */
let generation = 0;
const signedOutListeners = [];
const TAB_KEY = 'tasklane.tab';
/** How long a reloaded tab waits for its previous page to let go of the tab's name. */
const CLAIM_WAIT_MS = 1_000;

export function user() { return currentUser; }
export function hasSession() { return sessionStorage.getItem(REFRESH_KEY) !== null; }
export function onSignedOut(listener) { signedOutListeners.push(listener); }

function keep(session) {
  access = session.access_token;
  accessExpiresAt = Date.now() + session.expires_in * 1000;
  sessionStorage.setItem(REFRESH_KEY, session.refresh_token);
  currentUser = session.user;
}

function forget() {
  generation += 1;
  access = null;
  currentUser = null;
  sessionStorage.removeItem(REFRESH_KEY);
}

function signedOut() {
  forget();
  for (const listener of signedOutListeners) listener();
}

export async function register(email, password, displayName) {
  keep(await request('POST', '/auth/register', { body: { email, password, display_name: displayName }, auth: false }));
}

export async function login(email, password) {
  keep(await request('POST', '/auth/login', { body: { email, password }, auth: false }));
}

export async function logout() {
  const token = sessionStorage.getItem(REFRESH_KEY);
  forget();
  if (token) await request('POST', '/auth/logout', { body: { refresh_token: token }, auth: false }).catch(() => {});
}

/** Spends the refresh token for a new pair; one refresh at a time however many callers ask. */
function refresh() {
  refreshing ??= (async () => {
    const token = sessionStorage.getItem(REFRESH_KEY);
    if (!token) throw new ApiError(401, { detail: 'You are signed out.' });
    const started = generation;
    try {
      const session = await request('POST', '/auth/refresh', { body: { refresh_token: token }, auth: false });
      if (started !== generation) throw new ApiError(401, { detail: 'You are signed out.' });
      keep(session);
    } catch (error) {
      if (error.status === 401 && started === generation) signedOut();
      throw error;
    }
    if (!currentUser) currentUser = await request('GET', '/me');
  })().finally(() => { refreshing = null; });
  return refreshing;
}

/**
 * Makes sure this tab's session is its own. "Duplicate tab" copies sessionStorage, refresh token
 * included, and two tabs spending one rotating token would get the session revoked as stolen.
 * Each tab holds a lock named after it for as long as it lives; a tab that cannot take its
 * name's lock (within a second, time for a reloaded page's predecessor to let go) is a copy, and
 * drops the copied token. Without Web Locks (a page not served over https or from localhost)
 * there is no check.
 */
export async function claimTab() {
  if (!navigator.locks || !crypto.randomUUID) return;
  const hold = (name, wait) => new Promise((resolve) => {
    let options = { ifAvailable: true };
    if (wait) {
      const abort = new AbortController();
      setTimeout(() => abort.abort(), wait);
      options = { signal: abort.signal };
    }
    navigator.locks.request(`tasklane-tab:${name}`, options, (lock) => {
      resolve(lock !== null);
      // Held until the page goes away.
      return lock ? new Promise(() => {}) : undefined;
    }).catch(() => resolve(false));
  });
  const name = sessionStorage.getItem(TAB_KEY);
  if (name && await hold(name, CLAIM_WAIT_MS)) return;
  if (name) sessionStorage.removeItem(REFRESH_KEY);
  const fresh = crypto.randomUUID();
  sessionStorage.setItem(TAB_KEY, fresh);
  await hold(fresh, 0);
}

/** Restores the tab's session after a reload; false when there is none. */
export async function resume() {
  if (!hasSession()) return false;
  try {
    await refresh();
    return true;
  } catch (error) {
    if (error.status === 401) return false;
    throw error;
  }
}

async function accessToken() {
  if (!access || Date.now() > accessExpiresAt - EARLY_MS) await refresh();
  return access;
}

/**
 * Sends one request and answers its JSON (null for 204). Options: `body`, `headers`, `auth`
 * (default true), `full` (answer `{status, headers, body}`, 304 included). A 401 refreshes the
 * session once and tries again.
 */
export async function request(method, path, { body, headers = {}, auth = true, full = false } = {}) {
  for (let attempt = 0; ; attempt++) {
    const sent = { ...headers };
    if (body !== undefined) sent['content-type'] = 'application/json';
    const token = auth ? await accessToken() : null;
    if (auth) sent.authorization = `Bearer ${token}`;
    let response;
    try {
      response = await fetch(BASE + path, {
        method, headers: sent, body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new ApiError(0, { detail: 'The server cannot be reached. Check your connection and try again.' });
    }
    if (response.status === 401 && auth && attempt === 0) {
      // Only the token that was refused is dropped: another request may have refreshed already.
      if (access === token) access = null;
      continue;
    }
    if (!response.ok && response.status !== 304) {
      const problem = await response.json().catch(() => ({ detail: `${response.status} ${response.statusText}` }));
      throw new ApiError(response.status, problem);
    }
    const json = response.status === 204 || response.status === 304 ? null : await response.json();
    return full ? { status: response.status, headers: response.headers, body: json } : json;
  }
}

export const get = (path) => request('GET', path);
export const post = (path, body, headers) => request('POST', path, { body, headers });
export const patch = (path, body, headers) => request('PATCH', path, { body, headers });
export const del = (path, headers) => request('DELETE', path, { headers });

/** Every item of a paginated listing (`{items, next_cursor}`), and the first page's ETag. */
export async function all(path) {
  const items = [];
  let cursor = null;
  let etag = null;
  do {
    const separator = path.includes('?') ? '&' : '?';
    const page = await request('GET', cursor ? `${path}${separator}cursor=${encodeURIComponent(cursor)}` : path, { full: true });
    etag ??= page.headers.get('etag');
    items.push(...page.body.items);
    cursor = page.body.next_cursor;
  } while (cursor);
  return { items, etag };
}

/** A one-use WebSocket ticket. */
export async function wsTicket() {
  return (await post('/auth/ws-ticket')).ticket;
}
