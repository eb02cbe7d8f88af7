// screens/users.js - Benutzer (admin; auditor reads): the users with role,
// departments, state and when last seen (GET /api/admin/users); create
// (POST, optional initial password); one user (#/users/NAME): role and
// departments (PATCH), disable / enable (PATCH disabled), reset the
// password (POST .../password), delete (DELETE: asks once naming the keys
// and memberships that go and what is kept; the last-admin refusal, 409
// last_admin, is shown as text); the user's API keys (prefixes only),
// a new key shown once with a copy button, revoke. Every change is an
// audit record of the server; the screen says so. byUrl: a member who
// types #/users gets the API's 403 as text.
import { h, heading, statusLine } from '../dom.js';
import { fmtTime, fmtNum, tableBox, table, field, facts } from './kit.js';
import { auditNote, doneLine, errLine, confirmOnce, requiredName, keyOnce, seg, focusMsg } from './admin-kit.js';

const ROLES = ['member', 'approver', 'admin', 'auditor'];

function lastSeen(app, u) {
  const v = Math.max(u.last_login || 0, u.last_key_use || 0);
  return v ? fmtTime(app, v) : app.t('users.never');
}

function roleSelect(app, value) {
  return h('select', { name: 'role' }, ROLES.map((r) => h('option', { value: r, selected: r === value }, app.t(`role.${r}`))));
}

/* Departments as checkboxes in a fieldset; returns {el, value()}. */
function deptChoice(app, all, chosen) {
  const boxes = all.map((d) => h('input', { type: 'checkbox', name: 'dept', value: d.name,
    checked: chosen.some((c) => c.toLowerCase() === d.name.toLowerCase()) }));
  const el = h('fieldset', { class: 'dept-choice' }, h('legend', null, app.t('users.departments')),
    all.length ? boxes.map((b) => h('label', { class: 'opt' }, b, b.value)) : h('p', { class: 'small muted' }, app.t('users.noDepartments')));
  return { el, value: () => boxes.filter((b) => b.checked).map((b) => b.value) };
}

export default {
  id: 'users',
  nav: 'nav.users',
  roles: ['admin', 'auditor'],
  byUrl: true,

  async render(main, app, arg) {
    const name = arg ? decodeURIComponent(arg.split('?')[0]) : '';
    if (name) return this.renderOne(main, app, name);
    return this.renderList(main, app);
  },

  async renderList(main, app, message) {
    const { t } = app;
    const isAdmin = app.user.role === 'admin';
    main.replaceChildren(heading(t('users.title')),
      h('p', { class: 'muted' }, t(isAdmin ? 'users.intro' : 'users.introReadOnly')));
    if (message) main.append(h('div', { class: 'msg-area' }, message));
    let users;
    let depts = [];
    try {
      users = (await app.api('GET', '/api/admin/users')).data || [];
      depts = (await app.api('GET', '/api/admin/departments')).data || [];
    } catch (e) {
      main.append(errLine(app, e));
      return;
    }
    const cap = t('users.caption', { n: users.length });
    const rows = users.map((u) => [
      h('a', { href: `#/users/${seg(u.name)}`, 'aria-label': t('users.open', { name: u.name }) }, u.name),
      t(`role.${u.role}`),
      u.departments.length ? u.departments.join(', ') : t('users.none'),
      u.disabled ? h('span', { class: 'badge off' }, t('users.disabled')) : t('users.active'),
      lastSeen(app, u)]);
    main.append(tableBox(cap, table(cap, [t('users.col.name'), t('users.col.role'), t('users.col.departments'),
      t('users.col.state'), t('users.col.lastSeen')], rows)));
    if (!isAdmin) return;

    const nameIn = h('input', { type: 'text', name: 'name', required: true, autocomplete: 'off', maxlength: '127' });
    const role = roleSelect(app, 'member');
    const dc = deptChoice(app, depts, []);
    const pw = h('input', { type: 'password', name: 'password', autocomplete: 'new-password', minlength: '10' });
    const out = h('div');
    const form = h('form', { class: 'card', 'aria-labelledby': 'us-new', novalidate: true },
      h('h2', { id: 'us-new' }, t('users.create')),
      h('div', { class: 'row' }, field(t('users.name'), nameIn), field(t('users.role'), role)),
      dc.el,
      field(t('users.initialPassword'), pw, t('users.initialPasswordHint')),
      h('div', { class: 'actions row' }, h('button', { type: 'submit', class: 'primary' }, t('users.createButton'))),
      out, auditNote(app));
    main.append(form);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const n = requiredName(nameIn, out, t('users.nameMissing'));
      if (!n) return;
      const body = { name: n, role: role.value, departments: dc.value() };
      if (pw.value) body.password = pw.value;
      try {
        const u = await app.api('POST', '/api/admin/users', body);
        app.announce(t('users.created', { name: u.name }));
        await this.renderOne(main, app, u.name, doneLine(app, t('users.created', { name: u.name })));
        history.replaceState(null, '', `#/users/${seg(u.name)}`);
        focusMsg(main);
      } catch (e) {
        out.replaceChildren(errLine(app, e));
      }
    });
  },

  async renderOne(main, app, name, message, newKey) {
    const { t } = app;
    const isAdmin = app.user.role === 'admin';
    main.replaceChildren(h('p', null, h('a', { href: '#/users' }, t('users.back'))), heading(t('users.one', { name })));
    let u;
    let keys;
    let depts = [];
    try {
      const all = (await app.api('GET', '/api/admin/users')).data || [];
      u = all.find((x) => x.name === name);
      if (!u) {
        main.append(statusLine(t('users.notFound', { name }), 'error'));
        return;
      }
      keys = (await app.api('GET', `/api/admin/users/${seg(name)}/keys`)).data || [];
      depts = (await app.api('GET', '/api/admin/departments')).data || [];
    } catch (e) {
      main.append(errLine(app, e));
      return;
    }
    const msg = h('div', { class: 'msg-area' });
    if (message) msg.append(message);
    main.append(msg, facts([
      [t('users.role'), t(`role.${u.role}`)],
      [t('users.departments'), u.departments.length ? u.departments.join(', ') : t('users.none')],
      [t('users.col.state'), u.disabled ? t('users.disabled') : t('users.active')],
      [t('users.password'), u.has_password ? t('users.hasPassword') : t('users.noPassword')],
      [t('users.createdAt'), fmtTime(app, u.created_at)],
      [t('users.lastLogin'), u.last_login ? fmtTime(app, u.last_login) : t('users.noSession')],
      [t('users.lastKeyUse'), u.last_key_use ? fmtTime(app, u.last_key_use) : t('users.never')],
    ]));
    const again = async (m, k) => { await this.renderOne(main, app, name, m, k); focusMsg(main); };
    const act = async (fn, okText, out) => {
      try {
        await fn();
        app.announce(okText);
        await again(doneLine(app, okText));
      } catch (e) {
        (out || msg).replaceChildren(errLine(app, e));
        if (!out) msg.scrollIntoView({ block: 'nearest' });
      }
    };

    // Keys (auditors see the list too).
    const keyRows = keys.map((k) => [
      h('code', null, `${k.prefix}…`), fmtTime(app, k.created_at),
      k.last_used_at ? fmtTime(app, k.last_used_at) : t('users.never'),
      k.active ? t('users.keyActive') : t('users.keyRevoked', { when: fmtTime(app, k.revoked_at) }),
      isAdmin && k.active ? h('button', { type: 'button', class: 'danger',
        'aria-label': t('users.revokeKey', { prefix: k.prefix }),
        onclick: () => act(() => app.api('DELETE', `/api/admin/keys/${k.id}`), t('users.keyRevokedDone', { prefix: k.prefix })) },
      t('users.revoke')) : '']);
    const keyCap = t('users.keysCaption', { name });
    const keySec = h('section', { class: 'card', 'aria-labelledby': 'us-keys' },
      h('h2', { id: 'us-keys' }, t('users.keys')),
      newKey ? keyOnce(app, newKey) : null,
      keys.length ? tableBox(keyCap, table(keyCap, [t('users.col.prefix'), t('users.col.created'),
        t('users.col.lastUsed'), t('users.col.keyState'), isAdmin ? t('users.col.actions') : ''], keyRows))
        : h('p', { class: 'muted' }, t('users.noKeys')));
    main.append(keySec);
    if (!isAdmin) return;
    const keyOut = h('div');
    const bKey = h('button', { type: 'button', class: 'primary' }, t('users.newKey'));
    bKey.addEventListener('click', async () => {
      try {
        const k = await app.api('POST', `/api/admin/users/${seg(name)}/keys`, {});
        app.announce(t('users.keyMade'));
        await again(doneLine(app, t('users.keyMade')), k);
        const hk = main.querySelector('.key-once h3');
        if (hk) hk.focus();
      } catch (e) {
        keyOut.replaceChildren(errLine(app, e));
      }
    });
    keySec.append(h('div', { class: 'actions row' }, bKey), keyOut, auditNote(app));

    // Role and departments.
    const role = roleSelect(app, u.role);
    const dc = deptChoice(app, depts, u.departments);
    const out1 = h('div');
    const f1 = h('form', { class: 'card', 'aria-labelledby': 'us-edit' },
      h('h2', { id: 'us-edit' }, t('users.edit')),
      field(t('users.role'), role, t('users.roleHint')), dc.el,
      h('div', { class: 'actions row' }, h('button', { type: 'submit', class: 'primary' }, t('users.save'))),
      out1, auditNote(app));
    f1.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const body = { departments: dc.value() };
      if (role.value !== u.role) body.role = role.value;
      act(() => app.api('PATCH', `/api/admin/users/${seg(name)}`, body), t('users.saved', { name }), out1);
    });

    // Disable / enable.
    const out2 = h('div');
    const bDis = h('button', { type: 'button', class: u.disabled ? 'primary' : 'danger' },
      t(u.disabled ? 'users.enable' : 'users.disable'));
    bDis.addEventListener('click', () => act(() => app.api('PATCH', `/api/admin/users/${seg(name)}`, { disabled: !u.disabled }),
      t(u.disabled ? 'users.enabledDone' : 'users.disabledDone', { name }), out2));
    const s2 = h('section', { class: 'card', 'aria-labelledby': 'us-dis' },
      h('h2', { id: 'us-dis' }, t('users.access')),
      h('p', { class: 'small' }, t(u.disabled ? 'users.enableHint' : 'users.disableHint')),
      h('div', { class: 'actions row' }, bDis), out2, auditNote(app));

    // Reset the password.
    const pw = h('input', { type: 'password', name: 'new-password', autocomplete: 'new-password', minlength: '10' });
    const out3 = h('div');
    const f3 = h('form', { class: 'card', 'aria-labelledby': 'us-pw', novalidate: true },
      h('h2', { id: 'us-pw' }, t('users.resetPassword')),
      field(t('users.newPassword'), pw, t('users.newPasswordHint')),
      h('div', { class: 'actions row' }, h('button', { type: 'submit', class: 'primary' }, t('users.setPassword'))),
      out3, auditNote(app));
    f3.addEventListener('submit', (ev) => {
      ev.preventDefault();
      if (new TextEncoder().encode(pw.value).length < 10) {
        pw.setAttribute('aria-invalid', 'true');
        out3.replaceChildren(statusLine(t('users.passwordShort'), 'error'));
        pw.focus();
        return;
      }
      act(() => app.api('POST', `/api/admin/users/${seg(name)}/password`, { password: pw.value }),
        t('users.passwordSet', { name }), out3);
    });

    // Delete.
    const out4 = h('div');
    const bDel = h('button', { type: 'button', class: 'danger' }, t('users.delete'));
    bDel.addEventListener('click', async () => {
      const active = keys.filter((k) => k.active).length;
      const ok = await confirmOnce(app, out4, t('users.deleteTitle', { name }), [
        t('users.deleteGoes', { keys: fmtNum(app, keys.length), active: fmtNum(app, active),
          depts: fmtNum(app, u.departments.length) }),
        t('users.deleteKept'), t('admin.audited')], t('users.deleteYes', { name }));
      if (!ok) { bDel.focus(); return; }
      try {
        const r = await app.api('DELETE', `/api/admin/users/${seg(name)}`);
        const text = t('users.deleted', { name, keys: fmtNum(app, r.removed.api_keys),
          sessions: fmtNum(app, r.removed.sessions), depts: fmtNum(app, r.removed.department_memberships),
          docs: fmtNum(app, r.kept.documents), approvals: fmtNum(app, r.kept.approvals) });
        app.announce(text);
        history.replaceState(null, '', '#/users');
        await this.renderList(main, app, doneLine(app, text));
        focusMsg(main);
      } catch (e) {
        out4.replaceChildren(errLine(app, e));
        out4.querySelector('p').setAttribute('tabindex', '-1');
        out4.querySelector('p').focus();
      }
    });
    const s4 = h('section', { class: 'card', 'aria-labelledby': 'us-del' },
      h('h2', { id: 'us-del' }, t('users.deleteSection')),
      h('div', { class: 'actions row' }, bDel), out4);
    main.append(f1, s2, f3, s4);
  },
};
