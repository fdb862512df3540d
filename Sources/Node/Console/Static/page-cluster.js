// Cluster: members, leader, term, indexes, health, certificate expiry, sessions per
// node; refreshed every 5 seconds while the page is shown.
import { api } from './api.js';
import { h, heading, table, details, errorBox, notice, badge, time, put } from './ui.js';

const REFRESH_MS = 5000;

function certificate(c) {
  if (!c) return 'unknown (unreachable)';
  const days = Math.floor((c.notAfter * 1000 - Date.now()) / 86400000);
  return `${time(c.notAfter * 1000)} (${days < 0 ? 'expired' : days + ' d left'})`;
}

/** A member's health: down or draining (placement flags), unreachable, ok. */
function health(m) {
  if (m.down) return 'down';
  if (m.active === false) return 'unreachable';
  if (m.draining) return 'draining';
  return m.active ? 'ok' : 'unknown';
}

function view(status, sessions, sessionsError, refreshedAt) {
  const perNode = {};
  if (sessions) for (const s of sessions.sessions) perNode[s.node] = (perNode[s.node] || 0) + 1;
  const unreachable = new Set((sessions?.nodes || []).filter((n) => !n.ok).map((n) => n.node));
  const members = table([
    { label: 'Node', cell: (m) => m.id },
    { label: 'Role', cell: (m) => (m.id === status.leader ? 'leader' : m.voter ? 'follower' : 'learner') },
    { label: 'Health', cell: (m) => badge(health(m)) },
    { label: 'API', cell: (m) => m.api || '—' },
    { label: 'Match index', cell: (m) => m.match ?? '—' },
    { label: 'Certificate expires', cell: (m) => certificate(m.certificate) },
    { label: 'Sessions', cell: (m) => (sessions ? (unreachable.has(m.id) ? 'no answer' : String(perNode[m.id] || 0)) : '—') },
  ], status.members, { id: 'members', empty: 'No members.' });
  return [
    details([
      ['Answered by', status.node],
      ['Leader', status.leader || 'none known'],
      ['Term', status.term],
      ['Commit index', status.commitIndex],
      ['Applied index', status.appliedIndex],
      ['This node\'s certificate', certificate(status.certificate)],
    ]),
    h('h2', {}, 'Members'),
    members,
    sessionsError ? notice(`Sessions per node unavailable: ${sessionsError.message}`, 'warn') : null,
    h('p', { class: 'muted' }, `Refreshed ${time(refreshedAt)} · every ${REFRESH_MS / 1000} s`),
  ];
}

export async function render(main, ctx) {
  const body = h('div', { id: 'cluster' });
  put(main, heading('Cluster'), body);
  async function refresh() {
    const [status, sessions] = await Promise.allSettled([
      api('GET', '/v1/status'),
      ctx.can('sessions.read') ? api('GET', '/v1/sessions') : Promise.resolve(null),
    ]);
    if (status.status === 'rejected') { body.replaceChildren(errorBox(status.reason)); return; }
    const s = sessions.status === 'fulfilled' ? sessions.value : null;
    put(body, view(status.value, s, sessions.status === 'rejected' ? sessions.reason : null, Date.now()));
  }
  await refresh();
  const timer = setInterval(() => { refresh().catch(() => {}); }, REFRESH_MS);
  return () => clearInterval(timer);
}
