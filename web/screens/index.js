// screens/index.js - every screen of the navigation, in its order. A screen
// is web/screens/<id>.js exporting default
//   { id, nav: '<catalog key>', roles: ['admin', ...] | null, async render(main, app, arg) }
// with its strings in web/i18n/<id>.de.json and <id>.en.json (docs/UI.md).
import chat from './chat.js';
import documents from './documents.js';
import approvals from './approvals.js';
import usecases from './usecases.js';
import audit from './audit.js';
import gdpr from './gdpr.js';
import usage from './usage.js';
import users from './users.js';
import departments from './departments.js';
import collections from './collections.js';
import models from './models.js';
import settings from './settings.js';

export default [chat, documents, approvals, usecases, audit, gdpr, usage, users, departments, collections, models,
  settings];
