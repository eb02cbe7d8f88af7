// screens/login.js - Anmelden: POST /api/login with user name and password;
// the session cookie and CSRF token come back. Not in the navigation.
import { h, heading, statusLine } from '../dom.js';

export default {
  id: 'login',
  nav: 'login.title',
  roles: null,
  async render(main, app) {
    const t = app.t;
    const msg = h('div', { id: 'login-msg' });
    const user = h('input', { id: 'login-user', name: 'username', autocomplete: 'username', required: true,
      autocapitalize: 'none', spellcheck: 'false' });
    const pass = h('input', { id: 'login-pass', name: 'password', type: 'password', autocomplete: 'current-password',
      required: true });
    const submit = h('button', { type: 'submit', class: 'primary' }, t('login.submit'));
    const form = h('form', { class: 'card login', 'aria-labelledby': 'login-h' },
      h('div', { class: 'field' }, h('label', { for: 'login-user' }, t('login.user')), user),
      h('div', { class: 'field' }, h('label', { for: 'login-pass' }, t('login.password')), pass),
      submit, msg);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      submit.disabled = true;
      msg.replaceChildren(statusLine(t('login.busy')));
      try {
        const r = await app.api('POST', '/api/login', { username: user.value, password: pass.value });
        const me = await app.request('GET', '/api/me');
        await app.login(me.ok ? { ...me.data, csrf_token: me.data.csrf_token || r.csrf_token } : r);
        pass.value = '';
        app.announce(t('login.done', { user: r.user }));
        app.navigate((app.visibleScreens()[0] || { id: 'chat' }).id);
      } catch (e) {
        let text;
        if (e.status === 401) text = t('login.wrong');
        else if (e.status === 429) {
          const ra = e.headers && e.headers.get('Retry-After');
          text = e.code === 'login_busy' ? t('login.busyServer') : t('login.tooMany', { s: ra || '?' });
        } else text = app.errorText(e);
        msg.replaceChildren(statusLine(text, 'error'));
        pass.select();
        pass.focus();
      } finally {
        submit.disabled = false;
      }
    });
    const h1 = heading(t('login.title'));
    h1.id = 'login-h';
    main.append(h('section', { class: 'narrow' }, h1, h('p', { class: 'muted' }, t('login.intro')), form));
    app.focusMain = true;
    setTimeout(() => user.focus(), 0);
  },
};
