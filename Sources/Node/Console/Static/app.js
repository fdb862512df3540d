// The console's shell: who is signed in, the navigation (hiding what the role may not
// use), and a hash router (#/tunnels/ID) that renders one page into <main>.
import { api, session, whenSignedOut } from './api.js';
import { h, errorBox, loading } from './ui.js';

/** Pages by first path segment; `perm` hides the link when the role lacks it. */
const PAGES = [
  { path: 'cluster', label: 'Cluster', perm: 'cluster.read', load: () => import('./page-cluster.js') },
  { path: 'tunnels', label: 'Tunnels', perm: 'tunnels.read', load: () => import('./page-tunnels.js'),
    detail: () => import('./page-tunnel.js') },
  { path: 'mappings', label: 'Mappings', perm: 'mappings.read', load: () => import('./page-mappings.js') },
  { path: 'endpoints', label: 'Proxy endpoints', perm: 'endpoints.read', load: () => import('./page-endpoints.js'),
    detail: () => import('./page-endpoint.js') },
  { path: 'sessions', label: 'Sessions', perm: 'sessions.read', load: () => import('./page-sessions.js') },
  { path: 'audit', label: 'Audit', perm: 'audit.read', load: () => import('./page-audit.js') },
  { path: 'users', label: 'Users', perm: 'users.read', load: () => import('./page-users.js') },
];

const main = document.getElementById('main');
let me = null;          // {name, role, permissions} from /v1/whoami
let cleanup = null;     // the current page's timers
let renderSeq = 0;      // a newer navigation wins over a slower older one

/** Marks <main> settled: `state` for people and scripts, `rendered` counts every render. */
function settle(state) {
  main.dataset.state = state;
  main.dataset.rendered = String(Number(main.dataset.rendered || 0) + 1);
}

/** What the pages get: the caller, a permission check, navigation. */
const ctx = {
  get me() { return me; },
  can: (perm) => !!me && me.permissions.includes(perm),
  go: (hash) => { if (location.hash === hash) route(); else location.hash = hash; },
  reload: () => route(),
};

function buildNav() {
  const nav = document.getElementById('nav');
  const links = PAGES.filter((p) => ctx.can(p.perm)).map((p) =>
    h('a', { href: '#/' + p.path, id: 'nav-' + p.path, dataset: { page: p.path } }, p.label));
  nav.replaceChildren(...links);
  document.getElementById('me-name').textContent = `${me.name} · ${me.role}`;
  document.getElementById('top').hidden = false;
}

function markNav(path) {
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.page === path) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

async function showLogin(message) {
  me = null;
  document.getElementById('top').hidden = true;
  const page = await import('./page-login.js');
  main.dataset.page = 'login';
  await page.render(main, { message, signedIn });
  settle('ready');
}

async function signedIn() {
  me = await api('GET', '/v1/whoami');
  buildNav();
  if (!location.hash || location.hash === '#/' || location.hash === '#/login') location.hash = '#/cluster';
  else route();
}

async function route() {
  const seq = ++renderSeq;
  if (cleanup) { cleanup(); cleanup = null; }
  if (!session.get()) return showLogin();
  if (!me) {
    try { me = await api('GET', '/v1/whoami'); } catch (err) {
      if (!session.get()) return; // 401: whenSignedOut already showed the sign-in page
      main.replaceChildren(errorBox(err, 'Could not load who you are'));
      settle('error');
      return;
    }
    buildNav();
  }
  const [first, ...rest] = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  const page = PAGES.find((p) => p.path === first) || PAGES[0];
  if (page.path !== first) { location.hash = '#/' + page.path; return; }
  markNav(page.path);
  main.dataset.page = rest.length && page.detail ? page.path + '-detail' : page.path;
  main.dataset.state = 'loading';
  main.replaceChildren(loading());
  try {
    const module = await (rest.length && page.detail ? page.detail() : page.load());
    if (seq !== renderSeq) return;
    const done = await module.render(main, ctx, ...rest);
    if (seq !== renderSeq) { if (typeof done === 'function') done(); return; }
    cleanup = typeof done === 'function' ? done : null;
    settle('ready');
  } catch (err) {
    // A 401 already put the sign-in form up (whenSignedOut); keep it.
    if (seq !== renderSeq || !session.get()) return;
    main.replaceChildren(h('h1', {}, page.label), errorBox(err));
    settle('error');
  }
}

document.getElementById('sign-out').addEventListener('click', () => {
  session.clear();
  if (cleanup) { cleanup(); cleanup = null; }
  location.hash = '#/login';
  showLogin('You are signed out.');
});

whenSignedOut((message) => {
  if (cleanup) { cleanup(); cleanup = null; }
  showLogin(`Your session ended: ${message}. Sign in again.`);
});

window.addEventListener('hashchange', () => route());
route();
