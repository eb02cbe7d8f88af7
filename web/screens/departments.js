// screens/departments.js - Abteilungen (admin; auditor reads): the
// departments with their members and collections (GET
// /api/admin/departments); create (POST), rename (PATCH {name}), delete
// (DELETE: asks once, naming the memberships and collection rights that
// go; collections left without any department are then readable by
// admins only, and the answer's orphaned_collections are shown). Every
// change is an audit record; the screen says so.
import { h, heading, statusLine } from '../dom.js';
import { fmtNum, tableBox, table, field } from './kit.js';
import { auditNote, doneLine, errLine, confirmOnce, requiredName, seg, focusMsg } from './admin-kit.js';

export default {
  id: 'departments',
  nav: 'nav.departments',
  roles: ['admin', 'auditor'],
  byUrl: true,

  async render(main, app, arg, message) {
    const { t } = app;
    const isAdmin = app.user.role === 'admin';
    main.replaceChildren(heading(t('departments.title')),
      h('p', { class: 'muted' }, t(isAdmin ? 'departments.intro' : 'departments.introReadOnly')));
    const msg = h('div', { class: 'msg-area' });
    if (message) msg.append(message);
    main.append(msg);
    let depts;
    try {
      depts = (await app.api('GET', '/api/admin/departments')).data || [];
    } catch (e) {
      main.append(errLine(app, e));
      return;
    }
    const again = async (m) => { await this.render(main, app, '', m); focusMsg(main); };
    const work = h('div', { class: 'dept-work' });
    const rows = depts.map((d) => [
      d.name,
      d.members.length ? d.members.join(', ') : t('departments.none'),
      d.collections.length ? d.collections.join(', ') : t('departments.none'),
      isAdmin ? h('span', { class: 'row-actions' },
        h('button', { type: 'button', 'aria-label': t('departments.renameOf', { name: d.name }),
          onclick: () => this.renameForm(app, work, d, again) }, t('departments.rename')),
        h('button', { type: 'button', class: 'danger', 'aria-label': t('departments.deleteOf', { name: d.name }),
          onclick: () => this.remove(app, work, d, again) }, t('departments.delete'))) : '']);
    const cap = t('departments.caption', { n: depts.length });
    main.append(depts.length
      ? tableBox(cap, table(cap, [t('departments.col.name'), t('departments.col.members'),
        t('departments.col.collections'), isAdmin ? t('departments.col.actions') : ''], rows))
      : h('p', { class: 'muted' }, t('departments.empty')));
    if (!isAdmin) return;
    main.append(work);

    const nameIn = h('input', { type: 'text', name: 'name', required: true, autocomplete: 'off', maxlength: '127' });
    const out = h('div');
    const form = h('form', { class: 'card', 'aria-labelledby': 'dp-new', novalidate: true },
      h('h2', { id: 'dp-new' }, t('departments.create')),
      field(t('departments.name'), nameIn),
      h('div', { class: 'actions row' }, h('button', { type: 'submit', class: 'primary' }, t('departments.createButton'))),
      out, auditNote(app));
    main.append(form);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const n = requiredName(nameIn, out, t('departments.nameMissing'));
      if (!n) return;
      try {
        const d = await app.api('POST', '/api/admin/departments', { name: n });
        const text = t('departments.created', { name: d.name });
        app.announce(text);
        await again(doneLine(app, text));
      } catch (e) {
        out.replaceChildren(errLine(app, e));
      }
    });
  },

  renameForm(app, work, d, again) {
    const { t } = app;
    const nameIn = h('input', { type: 'text', name: 'new-name', required: true, value: d.name, autocomplete: 'off' });
    const out = h('div');
    const form = h('form', { class: 'card', 'aria-labelledby': 'dp-ren', novalidate: true },
      h('h2', { id: 'dp-ren', tabindex: '-1' }, t('departments.renameTitle', { name: d.name })),
      field(t('departments.newName'), nameIn, t('departments.renameHint')),
      h('div', { class: 'actions row' },
        h('button', { type: 'submit', class: 'primary' }, t('departments.renameButton')),
        h('button', { type: 'button', onclick: () => work.replaceChildren() }, t('admin.cancel'))),
      out, auditNote(app));
    work.replaceChildren(form);
    nameIn.focus();
    nameIn.select();
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const n = nameIn.value.trim();
      if (!n) {
        out.replaceChildren(statusLine(t('departments.nameMissing'), 'error'));
        return;
      }
      try {
        const r = await app.api('PATCH', `/api/admin/departments/${seg(d.name)}`, { name: n });
        const text = t('departments.renamed', { was: r.was, name: r.name });
        app.announce(text);
        await again(doneLine(app, text));
      } catch (e) {
        out.replaceChildren(errLine(app, e));
      }
    });
  },

  async remove(app, work, d, again) {
    const { t } = app;
    const ok = await confirmOnce(app, work, t('departments.deleteTitle', { name: d.name }), [
      t('departments.deleteGoes', { members: fmtNum(app, d.n_members), rights: fmtNum(app, d.n_collections) }),
      d.members.length ? t('departments.deleteMembers', { list: d.members.join(', ') }) : null,
      d.collections.length ? t('departments.deleteCollections', { list: d.collections.join(', ') }) : null,
      t('departments.deleteOrphans'), t('admin.audited')].filter(Boolean), t('departments.deleteYes', { name: d.name }));
    if (!ok) return;
    try {
      const r = await app.api('DELETE', `/api/admin/departments/${seg(d.name)}`);
      let text = t('departments.deleted', { name: r.deleted, members: fmtNum(app, r.memberships_removed),
        rights: fmtNum(app, r.collection_rights_removed) });
      if (Array.isArray(r.orphaned_collections) && r.orphaned_collections.length) {
        text += ` ${t('departments.orphaned', { list: r.orphaned_collections.join(', ') })}`;
      }
      app.announce(text);
      await again(doneLine(app, text));
    } catch (e) {
      work.replaceChildren(errLine(app, e));
    }
  },
};
