// screens/models.js - Modelle (admin, auditor): the models directory read
// from each file's header (GET /api/admin/models): name, size,
// architecture, quantization (the tensor type holding most bytes),
// parameters, loaded or not, the knowledge base's embedding model; and the
// engine's memory (models loaded, their bytes, the budget, KV cache, slots,
// queue). Read only: models are files in DATA/models (docs/OPERATIONS.md).
import { h, heading } from '../dom.js';
import { fmtNum, fmtTime, tableBox, table, facts } from './kit.js';
import { errLine, fmtBytes } from './admin-kit.js';

function fmtParams(app, n) {
  const v = Number(n || 0);
  if (!v) return '–';
  if (v >= 1e9) return app.t('models.billions', { n: (v / 1e9).toLocaleString(app.lang === 'en' ? 'en-GB' : 'de-DE', { maximumFractionDigits: 1 }) });
  if (v >= 1e6) return app.t('models.millions', { n: (v / 1e6).toLocaleString(app.lang === 'en' ? 'en-GB' : 'de-DE', { maximumFractionDigits: 1 }) });
  return fmtNum(app, v);
}

export default {
  id: 'models',
  nav: 'nav.models',
  roles: ['admin', 'auditor'],
  byUrl: true,

  async render(main, app) {
    const { t } = app;
    main.append(heading(t('models.title')), h('p', { class: 'muted' }, t('models.intro')));
    let r;
    try {
      r = await app.api('GET', '/api/admin/models');
    } catch (e) {
      main.append(errLine(app, e));
      return;
    }
    const ms = r.data || [];
    const cap = t('models.caption', { n: ms.length });
    const rows = ms.map((m) => [
      m.id, fmtBytes(app, m.size),
      m.readable === false ? h('em', null, t('models.unreadable')) : (m.architecture || '–'),
      m.quant_type || '–', fmtParams(app, m.parameters),
      m.loaded ? h('span', { class: 'badge on' }, t('models.loaded')) : t('models.notLoaded'),
      m.knowledge_base_embedding ? t('models.embedding') : '',
      fmtTime(app, m.modified_at)]);
    main.append(ms.length
      ? tableBox(cap, table(cap, [t('models.col.name'), t('models.col.size'), t('models.col.arch'), t('models.col.quant'),
        t('models.col.params'), t('models.col.loaded'), t('models.col.use'), t('models.col.modified')], rows))
      : h('p', { class: 'muted' }, t('models.empty')));
    const mem = r.memory || {};
    main.append(h('section', { class: 'card', 'aria-labelledby': 'mo-mem' },
      h('h2', { id: 'mo-mem' }, t('models.memory')),
      facts([
        [t('models.mem.loaded'), fmtNum(app, mem.models_loaded)],
        [t('models.mem.bytes'), fmtBytes(app, mem.loaded_model_bytes)],
        [t('models.mem.budget'), mem.budget_bytes ? fmtBytes(app, mem.budget_bytes) : t('models.mem.budgetAuto')],
        [t('models.mem.kv'), t('models.mem.of', { a: fmtNum(app, mem.kv_used), b: fmtNum(app, mem.kv_total) })],
        [t('models.mem.slots'), t('models.mem.of', { a: fmtNum(app, mem.slots_busy), b: fmtNum(app, mem.slots_total) })],
        [t('models.mem.queue'), fmtNum(app, mem.queue_depth)],
      ])));
  },
};
