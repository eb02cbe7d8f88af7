// screens/documents.js - Dokumente: the collections the user may read, each
// with its documents; upload (drag and drop or file picker) into a
// collection the user may write, one XHR per file so each shows its own
// progress and its own error; delete where the user may manage (the server
// decides: 403/404 are shown as they come).
import { h, heading, statusLine } from '../dom.js';

function size(n, lang) {
  const u = ['B', 'KB', 'MB', 'GB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return `${n.toLocaleString(lang, { maximumFractionDigits: i ? 1 : 0 })} ${u[i]}`;
}

export default {
  id: 'documents',
  nav: 'nav.documents',
  roles: ['member', 'approver', 'admin', 'auditor'],

  async render(main, app) {
    const t = app.t;
    const msg = h('div', { id: 'doc-msg', class: 'doc-msg' });
    const collSel = h('select', { id: 'up-collection' });
    const collOther = h('input', { id: 'up-collection-name', placeholder: t('docs.otherPh') });
    const picker = h('input', { type: 'file', id: 'up-files', multiple: true, class: 'vh', tabindex: '-1',
      'aria-label': t('docs.pick') });
    const pickBtn = h('button', { type: 'button', id: 'up-pick' }, t('docs.pick'));
    const drop = h('div', { class: 'drop', id: 'drop' }, h('p', {}, t('docs.drop')), pickBtn, picker);
    const progress = h('ul', { class: 'uploads', id: 'uploads', 'aria-label': t('docs.uploads') });
    const lists = h('div', { id: 'doc-lists' });

    main.append(h('section', {}, heading(t('docs.title')), h('p', { class: 'muted' }, t('docs.intro')),
      h('section', { class: 'card', 'aria-labelledby': 'up-h' }, h('h2', { id: 'up-h' }, t('docs.upload')),
        h('div', { class: 'row' },
          h('div', { class: 'field' }, h('label', { for: 'up-collection' }, t('docs.collection')), collSel),
          h('div', { class: 'field' }, h('label', { for: 'up-collection-name' }, t('docs.other')), collOther)),
        drop, progress),
      msg, lists));

    pickBtn.addEventListener('click', () => picker.click());

    const target = () => collOther.value.trim() || collSel.value;

    const load = async () => {
      let docs;
      let colls;
      try {
        [docs, colls] = await Promise.all([app.api('GET', '/api/documents'), app.readableCollections()]);
      } catch (e) {
        msg.replaceChildren(statusLine(app.errorText(e), 'error'));
        return;
      }
      const prev = collSel.value;
      collSel.replaceChildren(...colls.filter((c) => c.right !== 'read').map((c) => h('option', { value: c.name }, c.name)));
      if (prev) collSel.value = prev;
      if (!collSel.options.length) collSel.append(h('option', { value: '' }, t('docs.noWritable')));
      const by = new Map(colls.map((c) => [c.name, []]));
      for (const d of docs.data || []) {
        if (!by.has(d.collection)) by.set(d.collection, []);
        by.get(d.collection).push(d);
      }
      lists.replaceChildren();
      if (!by.size) lists.append(h('p', { class: 'muted' }, t('docs.none')));
      for (const [name, items] of by) {
        const right = (colls.find((c) => c.name === name) || {}).right || (items[0] && items[0].right) || '';
        const table = h('table', {},
          h('caption', { class: 'vh' }, t('docs.listOf', { name })),
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('docs.colTitle')), h('th', { scope: 'col' }, t('docs.colSize')),
            h('th', { scope: 'col' }, t('docs.colChunks')), h('th', { scope: 'col' }, t('docs.colBy')),
            h('th', { scope: 'col' }, t('docs.colWhen')), h('th', { scope: 'col' }, h('span', { class: 'vh' }, t('docs.colActions'))))),
          h('tbody', {}, items.map((d) => h('tr', {},
            h('td', {}, d.title || '', ' ', h('span', { class: 'muted small' }, String(d.source_path || '').replace(/^upload:/, '').split('/').pop())),
            h('td', {}, size(d.size, app.lang)),
            h('td', {}, String(d.chunks)),
            h('td', {}, d.ingested_by || ''),
            h('td', {}, new Date(d.ingested_at * (d.ingested_at < 1e12 ? 1000 : 1)).toLocaleString(app.lang)),
            h('td', {}, h('button', { type: 'button', class: 'ghost danger',
              'aria-label': t('docs.deleteNamed', { title: d.title || d.source_path }),
              onclick: () => remove(d) }, t('docs.delete')))))));
        if (!items.length) table.querySelector('tbody').append(h('tr', {}, h('td', { colspan: '6', class: 'muted' }, t('docs.empty'))));
        lists.append(h('section', { class: 'collection', 'aria-label': t('docs.collectionNamed', { name }) },
          h('h2', {}, name, ' ', right ? h('span', { class: 'badge' }, t(`right.${right}`)) : ''), table));
      }
    };

    const remove = async (d) => {
      const name = d.title || d.source_path;
      if (!window.confirm(t('docs.confirmDelete', { title: name, chunks: d.chunks }))) return;
      let line;
      try {
        await app.api('DELETE', `/api/documents/${d.id}`);
        line = statusLine(t('docs.deleted', { title: name }));
      } catch (e) {
        line = statusLine(t('docs.deleteFailed', { title: name, why: app.errorText(e) }), 'error');
      }
      await load();
      msg.replaceChildren(line);
    };

    const uploadOne = (file, coll) => new Promise((resolve) => {
      const bar = h('progress', { max: '100', value: '0', 'aria-label': t('docs.progressOf', { name: file.name }) });
      const state = h('span', { class: 'small' }, t('docs.waiting'));
      const li = h('li', {}, h('span', { class: 'fname' }, file.name), bar, state);
      progress.append(li);
      const xhr = new XMLHttpRequest();
      xhr.open('POST', `/api/documents?collection=${encodeURIComponent(coll)}`);
      xhr.setRequestHeader('X-CSRF-Token', app.csrf);
      xhr.upload.addEventListener('progress', (ev) => {
        if (ev.lengthComputable) {
          bar.value = Math.round((ev.loaded / ev.total) * 100);
          state.textContent = t('docs.percent', { p: bar.value });
        }
      });
      const fail = (text) => {
        li.classList.add('failed');
        bar.value = 0;
        state.textContent = text;
        state.setAttribute('role', 'alert');
        resolve(false);
      };
      xhr.addEventListener('load', () => {
        let d = null;
        try { d = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
        if (xhr.status >= 200 && xhr.status < 300) {
          bar.value = 100;
          li.classList.add('done');
          state.textContent = d && d.status === 'unchanged' ? t('docs.same') : t('docs.done');
          // a legacy text encoding was converted (the answer's warnings say it in English)
          const enc = { 'windows-1252': 'Windows-1252', 'iso-8859-15': 'ISO-8859-15', 'utf-16le': 'UTF-16', 'utf-16be': 'UTF-16' }[d && d.encoding];
          if (enc) state.textContent += ` \u2013 ${t('docs.converted', { enc })}`;
          resolve(true);
        } else {
          const e = d && d.error ? d.error : {};
          fail(app.errorText(new app.ApiError(xhr.status, e.code, e.message)));
        }
      });
      xhr.addEventListener('error', () => fail(t('docs.netError')));
      const fd = new FormData();
      fd.append('file', file, file.name);
      xhr.send(fd);
      state.textContent = t('docs.sending');
    });

    const upload = async (files) => {
      const coll = target();
      if (!coll) { msg.replaceChildren(statusLine(t('docs.chooseCollection'), 'error')); return; }
      const list = [...files];
      if (!list.length) return;
      msg.replaceChildren(statusLine(t('docs.uploading', { n: list.length })));
      const ok = await Promise.all(list.map((f) => uploadOne(f, coll)));
      const good = ok.filter(Boolean).length;
      msg.replaceChildren(statusLine(t('docs.uploaded', { ok: good, n: list.length }), good === list.length ? '' : 'error'));
      app.announce(t('docs.uploaded', { ok: good, n: list.length }));
      await load();
    };

    picker.addEventListener('change', () => { upload(picker.files); picker.value = ''; });
    drop.addEventListener('dragover', (ev) => { ev.preventDefault(); drop.classList.add('over'); });
    drop.addEventListener('dragleave', () => drop.classList.remove('over'));
    drop.addEventListener('drop', (ev) => {
      ev.preventDefault();
      drop.classList.remove('over');
      upload(ev.dataTransfer.files);
    });
    await load();
  },
};
