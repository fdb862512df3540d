// Users (admin only): list, add with a role, remove.
import { api } from './api.js';
import { h, heading, table, field, onSubmit, errorBox, confirmDialog, badge, time, put } from './ui.js';

export async function render(main, ctx) {
  const users = await api('GET', '/v1/users');
  const status = h('div', { 'aria-live': 'polite' });
  const columns = [
    { label: 'Name', cell: (u) => u.name },
    { label: 'Role', cell: (u) => badge(u.role) },
    { label: 'Created', cell: (u) => (u.createdAt ? `${time(u.createdAt)} by ${u.createdBy || '—'}` : '—') },
  ];
  if (ctx.can('users.write')) {
    columns.push({ label: 'Actions', cell: (u) => h('button', { type: 'button', class: 'secondary small', onclick: async () => {
      const ok = await confirmDialog({ title: `Remove user ${u.name}?`, confirm: 'Remove',
        text: 'They can no longer sign in. Tokens they hold stay valid until they expire or the signing key is rotated.' });
      if (!ok) return;
      try { await api('DELETE', '/v1/users/' + encodeURIComponent(u.name)); ctx.reload(); } catch (err) {
        status.replaceChildren(errorBox(err, 'Remove refused'));
      }
    } }, 'Remove') });
  }
  const form = ctx.can('users.write') ? h('form', { id: 'user-add', class: 'card inline' },
    h('h2', {}, 'Add a user'),
    field('Name', h('input', { name: 'name', id: 'user-name', required: true, maxlength: 64, autocomplete: 'off' })),
    field('Role', h('select', { name: 'role', id: 'user-role' },
      h('option', { value: 'operator' }, 'operator — tunnels, mappings, endpoints, rules, sessions'),
      h('option', { value: 'auditor' }, 'auditor — read only, audit query and export'),
      h('option', { value: 'admin' }, 'admin — everything'))),
    field('Password', h('input', { name: 'password', id: 'user-password', type: 'password', required: true, autocomplete: 'new-password' })),
    h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'user-add-submit' }, 'Add user'))) : null;
  if (form) onSubmit(form, async (v) => { await api('POST', '/v1/users', v); ctx.reload(); });
  put(main, heading('Users'), status, table(columns, users, { id: 'users', empty: 'No users.' }), form);
}
