// Sessions: every live stream through every tunnel, cluster-wide (the answering node
// asks each member), with a kill per session.
import { api } from './api.js';
import { h, heading, table, time, bytes, notice, errorBox, confirmDialog, put } from './ui.js';

export async function render(main, ctx) {
  const [answer, tunnels] = await Promise.all([
    api('GET', '/v1/sessions'), api('GET', '/v1/tunnels').catch(() => [])]);
  const names = Object.fromEntries(tunnels.map((t) => [t.id, t.name]));
  const status = h('div', { 'aria-live': 'polite' });
  const columns = [
    { label: 'Session', cell: (s) => h('code', {}, s.id) },
    { label: 'Tunnel', cell: (s) => h('a', { href: '#/tunnels/' + encodeURIComponent(s.tunnelId) }, names[s.tunnelId] || s.tunnelId) },
    { label: 'Node', cell: (s) => s.node },
    { label: 'Source', cell: (s) => s.source },
    { label: 'Target', cell: (s) => s.target },
    { label: 'Opened', cell: (s) => time(s.openedAt) },
    { label: 'In / out', cell: (s) => `${bytes(s.bytesIn)} / ${bytes(s.bytesOut)}` },
  ];
  if (ctx.can('sessions.kill')) {
    columns.push({ label: 'Actions', cell: (s) => h('button', { type: 'button', class: 'danger small', onclick: async () => {
      const ok = await confirmDialog({ title: 'Kill this session?', confirm: 'Kill session',
        text: `The connection ${s.source} → ${s.target} on ${s.node} ends now. The tunnel stays open.` });
      if (!ok) return;
      try {
        await api('DELETE', '/v1/sessions/' + encodeURIComponent(s.id));
        ctx.reload();
      } catch (err) { status.replaceChildren(errorBox(err, 'Kill refused')); }
    } }, 'Kill') });
  }
  put(main, 
    heading('Sessions', h('button', { type: 'button', class: 'secondary', id: 'sessions-refresh', onclick: () => ctx.reload() }, 'Refresh')),
    status,
    answer.nodes.filter((n) => !n.ok).map((n) => notice(`Node ${n.node} did not answer: ${n.error || 'no reason given'}; its sessions are missing below.`, 'warn')),
    table(columns, answer.sessions, { id: 'sessions', empty: 'No live sessions in the cluster.' }));
}
