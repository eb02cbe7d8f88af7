// screens/settings.js - Einstellungen (everyone): language and theme (the
// same choices as the header's, remembered in the browser); my API keys
// (GET/POST/DELETE /api/me/keys: a new key is shown once with a copy
// button; the API refuses to make one for a request made with an API key,
// 403 session_required, and that refusal is shown as text); change my
// password (POST /api/me/password: every other session ends); my data:
// the API has no self-service export (GDPR Art. 15 is
// POST /api/gdpr/export, admins only), so the screen says whom to ask.
import { h, heading, statusLine } from '../dom.js';
import { fmtTime, tableBox, table, field } from './kit.js';
import { auditNote, doneLine, errLine, keyOnce, focusMsg } from './admin-kit.js';

export default {
  id: 'settings',
  nav: 'nav.settings',
  roles: null,

  async render(main, app, arg, message, newKey) {
    const { t } = app;
    main.replaceChildren(heading(t('settings.title')));
    const msg = h('div', { class: 'msg-area' });
    if (message) msg.append(message);
    main.append(msg);

    // Language and theme.
    const lang = h('select', { name: 'language' },
      [['de', 'Deutsch'], ['en', 'English']].map(([v, l]) => h('option', { value: v, selected: v === app.lang, lang: v }, l)));
    lang.addEventListener('change', () => app.setLang(lang.value));
    const cur = app.theme ? app.theme() : '';
    const themes = ['', 'light', 'dark'].map((v) => {
      const r = h('input', { type: 'radio', name: 'theme', value: v, checked: v === cur });
      r.addEventListener('change', () => { if (r.checked) app.setTheme(v); });
      return h('label', { class: 'opt' }, r, t(`settings.theme.${v || 'system'}`));
    });
    main.append(h('section', { class: 'card', 'aria-labelledby': 'se-look' },
      h('h2', { id: 'se-look' }, t('settings.look')),
      h('div', { class: 'row' }, field(t('settings.language'), lang),
        h('fieldset', null, h('legend', null, t('settings.themeLegend')), themes)),
      h('p', { class: 'small muted' }, t('settings.lookNote'))));

    // My API keys.
    const keyOut = h('div');
    const keySec = h('section', { class: 'card', 'aria-labelledby': 'se-keys' },
      h('h2', { id: 'se-keys' }, t('settings.keys')),
      h('p', { class: 'small muted' }, t('settings.keysIntro')));
    main.append(keySec);
    let keys = [];
    try {
      keys = (await app.api('GET', '/api/me/keys')).data || [];
    } catch (e) {
      keySec.append(errLine(app, e));
    }
    const again = async (m, k) => { await this.render(main, app, arg, m, k); focusMsg(main); };
    const revoke = async (k) => {
      try {
        await app.api('DELETE', `/api/me/keys/${k.id}`);
        const text = t('settings.keyRevoked', { prefix: k.prefix });
        app.announce(text);
        await again(doneLine(app, text));
      } catch (e) {
        keyOut.replaceChildren(errLine(app, e));
      }
    };
    if (newKey) keySec.append(keyOnce(app, newKey));
    const cap = t('settings.keysCaption');
    const rows = keys.map((k) => [h('code', null, `${k.prefix}…`), fmtTime(app, k.created_at),
      k.last_used_at ? fmtTime(app, k.last_used_at) : t('settings.never'),
      k.active ? t('settings.keyActive') : t('settings.keyIsRevoked', { when: fmtTime(app, k.revoked_at) }),
      k.active ? h('button', { type: 'button', class: 'danger', 'aria-label': t('settings.revokeOf', { prefix: k.prefix }),
        onclick: () => revoke(k) }, t('settings.revoke')) : '']);
    keySec.append(keys.length ? tableBox(cap, table(cap, [t('settings.col.prefix'), t('settings.col.created'),
      t('settings.col.lastUsed'), t('settings.col.state'), t('settings.col.actions')], rows))
      : h('p', { class: 'muted' }, t('settings.noKeys')));
    const bKey = h('button', { type: 'button', class: 'primary' }, t('settings.newKey'));
    bKey.addEventListener('click', async () => {
      try {
        const k = await app.api('POST', '/api/me/keys');
        app.announce(t('settings.keyMade'));
        await again(doneLine(app, t('settings.keyMade')), k);
        const hk = main.querySelector('.key-once h3');
        if (hk) hk.focus();
      } catch (e) {
        keyOut.replaceChildren(errLine(app, e));
      }
    });
    keySec.append(h('div', { class: 'actions row' }, bKey), keyOut, auditNote(app));

    // My password.
    const cur1 = h('input', { type: 'password', name: 'current-password', autocomplete: 'current-password' });
    const new1 = h('input', { type: 'password', name: 'new-password', autocomplete: 'new-password', minlength: '10' });
    const new2 = h('input', { type: 'password', name: 'new-password-repeat', autocomplete: 'new-password', minlength: '10' });
    const pwOut = h('div');
    const pwForm = h('form', { class: 'card', 'aria-labelledby': 'se-pw', novalidate: true },
      h('h2', { id: 'se-pw' }, t('settings.password')),
      field(t('settings.currentPassword'), cur1),
      field(t('settings.newPassword'), new1, t('settings.newPasswordHint')),
      field(t('settings.repeatPassword'), new2),
      h('div', { class: 'actions row' }, h('button', { type: 'submit', class: 'primary' }, t('settings.changePassword'))),
      pwOut, auditNote(app));
    pwForm.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      for (const x of [cur1, new1, new2]) x.removeAttribute('aria-invalid');
      const bad = (input, key) => {
        input.setAttribute('aria-invalid', 'true');
        pwOut.replaceChildren(statusLine(t(key), 'error'));
        input.focus();
      };
      if (!cur1.value) return bad(cur1, 'settings.currentMissing');
      if (new TextEncoder().encode(new1.value).length < 10) return bad(new1, 'settings.passwordShort');
      if (new1.value !== new2.value) return bad(new2, 'settings.passwordMismatch');
      try {
        const r = await app.api('POST', '/api/me/password', { current_password: cur1.value, new_password: new1.value });
        cur1.value = '';
        new1.value = '';
        new2.value = '';
        const text = t('settings.passwordChanged', { n: r.other_sessions_ended });
        pwOut.replaceChildren(doneLine(app, text));
        app.announce(text);
      } catch (e) {
        pwOut.replaceChildren(errLine(app, e));
      }
      return undefined;
    });
    main.append(pwForm);

    // My data.
    main.append(h('section', { class: 'card', 'aria-labelledby': 'se-data' },
      h('h2', { id: 'se-data' }, t('settings.data')),
      h('p', null, t('settings.dataText'))));
  },
};
