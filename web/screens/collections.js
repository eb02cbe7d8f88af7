// screens/collections.js - Sammlungen & Rechte: the collections the user
// may read (GET /api/collections) with their documents, the user's own
// right and, where the user manages one (admins: all), every department's
// right; one collection (#/collections/NAME): set a department's right
// (PUT .../rights/{dept}), remove it (DELETE), delete the collection (asks
// once naming its documents and rights) and, for admins, "who may read
// it": a user's departments next to the collection's rights, with the
// verdict and its reason. Admins create collections with departments and
// rights (POST). In the navigation for admins; a department's manager
// opens it by URL (#/collections) and sees the collections they manage.
import { h, heading, statusLine } from '../dom.js';
import { fmtNum, fmtTime, tableBox, table, field } from './kit.js';
import { auditNote, doneLine, errLine, confirmOnce, requiredName, rightSelect, seg, focusMsg } from './admin-kit.js';

const RANK = { read: 1, write: 2, manage: 3 };

function rightsText(app, rights) {
  if (!rights) return app.t('collections.rightsHidden');
  if (!rights.length) return app.t('collections.noDepartment');
  return rights.map((r) => `${r.department}: ${app.t(`right.${r.right}`)}`).join(', ');
}

/* Why may `u` read collection `co`? {may, text}: admins read all; a
 * disabled user nothing; else the best right among the user's
 * departments that hold one on the collection. */
export function whyRead(app, u, co) {
  const { t } = app;
  if (u.disabled) return { may: false, text: t('collections.why.disabled', { user: u.name }) };
  if (u.role === 'admin') return { may: true, text: t('collections.why.admin', { user: u.name }) };
  const mine = new Set(u.departments.map((d) => d.toLowerCase()));
  const hits = (co.rights || []).filter((r) => mine.has(r.department.toLowerCase()));
  if (!hits.length) {
    return { may: false, text: t('collections.why.none', { user: u.name,
      depts: u.departments.length ? u.departments.join(', ') : t('collections.why.noDepts') }) };
  }
  const best = hits.reduce((a, r) => (RANK[r.right] > RANK[a.right] ? r : a));
  // The store caps auditors at read whatever their departments hold.
  const key = u.role === 'auditor' && best.right !== 'read' ? 'collections.why.auditor' : 'collections.why.yes';
  return { may: true, text: t(key, { user: u.name, dept: best.department, right: t(`right.${best.right}`) }) };
}

export default {
  id: 'collections',
  nav: 'nav.collections',
  roles: ['admin'],
  byUrl: true,

  async render(main, app, arg) {
    const name = arg ? decodeURIComponent(arg.split('?')[0]) : '';
    if (name) return this.renderOne(main, app, name);
    return this.renderList(main, app);
  },

  async departments(app) {
    if (app.user.role !== 'admin') return null;
    return (await app.api('GET', '/api/admin/departments')).data || [];
  },

  async renderList(main, app, message) {
    const { t } = app;
    const isAdmin = app.user.role === 'admin';
    main.replaceChildren(heading(t('collections.title')),
      h('p', { class: 'muted' }, t(isAdmin ? 'collections.intro' : 'collections.introManager')));
    if (message) main.append(h('div', { class: 'msg-area' }, message));
    let cols;
    let depts;
    try {
      cols = (await app.api('GET', '/api/collections')).data || [];
      depts = await this.departments(app);
    } catch (e) {
      main.append(errLine(app, e));
      return;
    }
    const shown = isAdmin ? cols : cols.filter((c) => c.right === 'manage');
    const cap = t('collections.caption', { n: shown.length });
    const rows = shown.map((c) => [
      h('a', { href: `#/collections/${seg(c.name)}`, 'aria-label': t('collections.open', { name: c.name }) }, c.name),
      fmtNum(app, c.documents), rightsText(app, c.rights)]);
    main.append(shown.length
      ? tableBox(cap, table(cap, [t('collections.col.name'), t('collections.col.documents'),
        t('collections.col.rights')], rows))
      : h('p', { class: 'muted' }, t(isAdmin ? 'collections.empty' : 'collections.noneManaged')));
    if (!isAdmin) return;

    const nameIn = h('input', { type: 'text', name: 'name', required: true, autocomplete: 'off', maxlength: '127' });
    const sels = depts.map((d) => ({ dept: d.name, sel: rightSelect(app, '', true, { name: `right-${d.name}` }) }));
    const out = h('div');
    const form = h('form', { class: 'card', 'aria-labelledby': 'co-new', novalidate: true },
      h('h2', { id: 'co-new' }, t('collections.create')),
      field(t('collections.name'), nameIn),
      h('fieldset', null, h('legend', null, t('collections.rightsLegend')),
        sels.length ? h('div', { class: 'row' }, sels.map((s) => field(s.dept, s.sel)))
          : h('p', { class: 'small muted' }, t('collections.noDepartments'))),
      h('div', { class: 'actions row' }, h('button', { type: 'submit', class: 'primary' }, t('collections.createButton'))),
      out, auditNote(app));
    main.append(form);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const n = requiredName(nameIn, out, t('collections.nameMissing'));
      if (!n) return;
      const departments = {};
      for (const s of sels) if (s.sel.value) departments[s.dept] = s.sel.value;
      try {
        const c = await app.api('POST', '/api/collections', { name: n, departments });
        const text = t('collections.created', { name: c.name || n });
        app.announce(text);
        history.replaceState(null, '', `#/collections/${seg(c.name || n)}`);
        await this.renderOne(main, app, c.name || n, doneLine(app, text));
        focusMsg(main);
      } catch (e) {
        out.replaceChildren(errLine(app, e));
      }
    });
  },

  async renderOne(main, app, name, message) {
    const { t } = app;
    const isAdmin = app.user.role === 'admin';
    main.replaceChildren(h('p', null, h('a', { href: '#/collections' }, t('collections.back'))),
      heading(t('collections.one', { name })));
    const msg = h('div', { class: 'msg-area' });
    if (message) msg.append(message);
    main.append(msg);
    let co;
    let depts;
    let users = null;
    try {
      co = ((await app.api('GET', '/api/collections')).data || []).find((c) => c.name === name);
      depts = await this.departments(app);
      if (isAdmin) users = (await app.api('GET', '/api/admin/users')).data || [];
    } catch (e) {
      main.append(errLine(app, e));
      return;
    }
    if (!co || !co.rights) {
      main.append(statusLine(t(co ? 'collections.notManaged' : 'collections.notFound', { name }), 'error'));
      return;
    }
    const again = async (m) => { await this.renderOne(main, app, name, m); focusMsg(main); };
    main.append(h('p', null, t('collections.summary', { docs: fmtNum(app, co.documents),
      created: fmtTime(app, co.created_at), right: t(`right.${co.right}`) })));

    // The rights, each removable.
    const out = h('div');
    const remove = async (r) => {
      try {
        const x = await app.api('DELETE', `/api/collections/${seg(name)}/rights/${seg(r.department)}`);
        let text = t('collections.removed', { dept: x.department, was: t(`right.${x.was}`) });
        if (x.orphaned) text += ` ${t('collections.orphaned')}`;
        app.announce(text);
        await again(doneLine(app, text));
      } catch (e) {
        out.replaceChildren(errLine(app, e));
      }
    };
    const cap = t('collections.rightsCaption', { name });
    const rows = co.rights.map((r) => [r.department, t(`right.${r.right}`),
      h('button', { type: 'button', class: 'danger', 'aria-label': t('collections.removeOf', { dept: r.department }),
        onclick: () => remove(r) }, t('collections.remove'))]);
    const deptNames = depts ? depts.map((d) => d.name)
      : [...new Set([...co.rights.map((r) => r.department), ...(app.user.departments || [])])];
    const dSel = h('select', { name: 'department' }, deptNames.map((d) => h('option', { value: d }, d)));
    const rSel = rightSelect(app, 'read', false, { name: 'right' });
    const setForm = h('form', { class: 'row set-right' },
      field(t('collections.department'), dSel), field(t('collections.right'), rSel),
      h('div', { class: 'field' }, h('span', { 'aria-hidden': 'true' }, '\u00a0'),
        h('button', { type: 'submit', class: 'primary' }, t('collections.setRight'))));
    setForm.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      try {
        const x = await app.api('PUT', `/api/collections/${seg(name)}/rights/${seg(dSel.value)}`, { right: rSel.value });
        const text = t('collections.set', { dept: x.department, right: t(`right.${x.right}`),
          was: x.was === 'none' ? t('admin.noRight') : t(`right.${x.was}`) });
        app.announce(text);
        await again(doneLine(app, text));
      } catch (e) {
        out.replaceChildren(errLine(app, e));
      }
    });
    main.append(h('section', { class: 'card', 'aria-labelledby': 'co-rights' },
      h('h2', { id: 'co-rights' }, t('collections.rights')),
      h('p', { class: 'small muted' }, t('collections.rightsExplain')),
      co.rights.length ? tableBox(cap, table(cap, [t('collections.department'), t('collections.right'),
        t('collections.col.actions')], rows)) : h('p', null, t('collections.noDepartment')),
      deptNames.length ? setForm : null, out, auditNote(app)));

    // Why may a user read it (admins: the user list is theirs to read).
    if (users) {
      const uSel = h('select', { name: 'user' }, users.map((u) => h('option', { value: u.name }, u.name)));
      const verdict = h('div', { 'aria-live': 'polite' });
      const show = () => {
        const u = users.find((x) => x.name === uSel.value);
        if (!u) { verdict.replaceChildren(); return; }
        const w = whyRead(app, u, co);
        verdict.replaceChildren(
          h('p', { class: `verdict ${w.may ? 'ok' : 'bad'}` },
            h('span', { 'aria-hidden': 'true' }, w.may ? '✓ ' : '✗ '), w.text),
          h('p', { class: 'small' }, t('collections.why.facts', { user: u.name,
            depts: u.departments.length ? u.departments.join(', ') : t('collections.why.noDepts'),
            rights: rightsText(app, co.rights) })));
      };
      uSel.addEventListener('change', show);
      main.append(h('section', { class: 'card why', 'aria-labelledby': 'co-why' },
        h('h2', { id: 'co-why' }, t('collections.whyTitle')), field(t('collections.user'), uSel), verdict));
      show();
    }

    // Delete.
    const out2 = h('div');
    const bDel = h('button', { type: 'button', class: 'danger' }, t('collections.delete'));
    bDel.addEventListener('click', async () => {
      const ok = await confirmOnce(app, out2, t('collections.deleteTitle', { name }), [
        t('collections.deleteGoes', { docs: fmtNum(app, co.documents), rights: fmtNum(app, co.rights.length) }),
        co.rights.length ? t('collections.deleteRights', { list: rightsText(app, co.rights) }) : null,
        t('admin.audited')].filter(Boolean), t('collections.deleteYes', { name }));
      if (!ok) { bDel.focus(); return; }
      try {
        const r = await app.api('DELETE', `/api/collections/${seg(name)}`);
        const text = t('collections.deleted', { name: r.deleted, docs: fmtNum(app, r.documents),
          files: fmtNum(app, r.stored_files_removed), rights: fmtNum(app, (r.rights_removed || []).length) });
        app.announce(text);
        history.replaceState(null, '', '#/collections');
        await this.renderList(main, app, doneLine(app, text));
        focusMsg(main);
      } catch (e) {
        out2.replaceChildren(errLine(app, e));
      }
    });
    main.append(h('section', { class: 'card', 'aria-labelledby': 'co-del' },
      h('h2', { id: 'co-del' }, t('collections.deleteSection')),
      h('div', { class: 'actions row' }, bDel), out2));
  },
};
