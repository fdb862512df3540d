// The console's only way to the node: the public admin API (docs/API.md), same origin.
// The token lives in sessionStorage (this tab only, gone when it closes), never in a cookie.

const KEY = 'warren.session';

/** The signed-in session: {token, expiresAt, user, role}, or null. */
export const session = {
  get() {
    try {
      const s = JSON.parse(sessionStorage.getItem(KEY));
      if (!s || typeof s.token !== 'string') return null;
      if (typeof s.expiresAt === 'number' && s.expiresAt <= Date.now()) { this.clear(); return null; }
      return s;
    } catch { return null; }
  },
  set(s) { sessionStorage.setItem(KEY, JSON.stringify(s)); },
  clear() { sessionStorage.removeItem(KEY); },
};

/** An API refusal or a failure to reach the node; `message` is the API's own. */
export class APIError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let onSignedOut = () => {};
/** Called when the API says the token is no longer valid (expired, key rotated). */
export function whenSignedOut(f) { onSignedOut = f; }

function headers(extra) {
  const h = { Accept: 'application/json', ...extra };
  const s = session.get();
  if (s) h.Authorization = 'Bearer ' + s.token;
  return h;
}

async function send(method, path, body, accept) {
  const init = { method, headers: headers(accept ? { Accept: accept } : {}), cache: 'no-store', credentials: 'omit' };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (e) {
    throw new APIError(0, 'unreachable', `the node did not answer (${e.message})`);
  }
  if (response.ok) return response;
  let code = `http_${response.status}`;
  let message = `${response.status} ${response.statusText}`;
  try {
    const data = await response.json();
    if (data && data.error) { code = data.error.code; message = data.error.message; }
  } catch { /* not JSON: keep the status line */ }
  if (response.status === 401 && path !== '/v1/login' && session.get()) {
    session.clear();
    onSignedOut(message);
  }
  throw new APIError(response.status, code, message);
}

/** One JSON call: resolves to the parsed answer, rejects with an APIError. */
export async function api(method, path, body) {
  const response = await send(method, path, body);
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

/** A file from the API (audit export): {blob, filename}. */
export async function download(path) {
  const response = await send('GET', path, undefined, '*/*');
  const disposition = response.headers.get('Content-Disposition') || '';
  const match = /filename=([^;]+)/.exec(disposition);
  return { blob: await response.blob(), filename: match ? match[1].trim() : 'download' };
}

/** `?a=1&b=2` from an object, leaving out empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? '?' + s : '';
}
