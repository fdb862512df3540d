// Sign in: POST /v1/login, then keep the token in this tab's sessionStorage.
import { api, session } from './api.js';
import { h, field, notice, onSubmit, put } from './ui.js';

export async function render(main, { message, signedIn }) {
  const user = h('input', { name: 'username', id: 'login-user', autocomplete: 'username', required: true });
  const password = h('input', {
    name: 'password', id: 'login-password', type: 'password', autocomplete: 'current-password', required: true });
  const form = h('form', { id: 'login-form', class: 'card narrow' },
    h('h1', {}, 'Sign in to Warren'),
    message ? notice(message) : null,
    field('User name', user),
    field('Password', password),
    h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'login-submit' }, 'Sign in')));
  onSubmit(form, async (v) => {
    const answer = await api('POST', '/v1/login', { username: v.username, password: v.password });
    session.set({ token: answer.token, expiresAt: answer.expiresAt, user: answer.user, role: answer.role });
    password.value = '';
    await signedIn();
  });
  put(main, form);
  user.focus();
}
