// The page's entry: signing in, the project list and the board, switched by the URL's hash
// (`#/` the list, `#/projects/<id>` a board), over one live connection for the whole page.

import * as api from './api.js';
import { Live } from './live.js';
import { Board } from './board.js';
import { openTask, openMembers } from './panels.js';
import { h, fill, showError, clearError, CATEGORY_NAMES } from './dom.js';

const main = document.getElementById('main');
const liveButton = document.getElementById('live');
const liveText = document.getElementById('live-text');
const who = document.getElementById('who');
const signOut = document.getElementById('sign-out');
const crumbs = document.getElementById('crumbs');

let board = null;
let listRefresh = null;
let showing = null;

const LIVE_WORDS = {
  connecting: 'connecting…', live: 'live', reconnecting: 'reconnecting…', offline: 'offline', paused: 'paused', off: 'off',
};

const live = new Live({
  event(frame) {
    if (board && frame.data.project_id === board.projectId) {
      board.apply(frame);
      if (frame.type === 'project_deleted') {
        showError(new Error('This project was deleted.'));
        location.hash = '#/';
      }
    } else if (showing === 'list') {
      clearTimeout(listRefresh);
      listRefresh = setTimeout(() => { if (showing === 'list') showList(); }, 200);
    }
  },
  resync(room) {
    // Events after our `seq` are gone: leave the room (so that the join after the reload is a
    // fresh one, replaying from the new `seq`), read the board again, then join from its `seq`.
    const current = board;
    if (!current || room !== `project:${current.projectId}` || current.resyncing) return;
    current.resyncing = true;
    live.leave(room);
    const reload = async (attempt) => {
      try {
        await current.load();
      } catch (error) {
        showError(error);
        if (board !== current) return;
        if (error.status === 404 || error.status === 403) {
          location.hash = '#/';
          return;
        }
        setTimeout(() => reload(attempt + 1), Math.min(8000, 1000 * 2 ** attempt));
        return;
      }
      current.resyncing = false;
      if (board === current) live.join(room, () => current.seq);
    };
    reload(0);
  },
  left(room, reason) {
    if (board && room === `project:${board.projectId}`) {
      showError(new Error(reason === 'project_deleted' ? 'This project was deleted.' : 'You were removed from this project.'));
      location.hash = '#/';
    }
  },
  error(code) {
    if (code === 'forbidden') showError(new Error('You are not a member of this project.'));
  },
  state(state) {
    liveButton.dataset.state = state;
    liveText.textContent = LIVE_WORDS[state] || state;
    liveButton.setAttribute('aria-label', `Live updates: ${LIVE_WORDS[state] || state}. Press to ${state === 'paused' ? 'resume' : 'pause'}.`);
  },
});

liveButton.addEventListener('click', () => (live.paused ? live.resume() : live.pause()));
document.getElementById('alert-close').addEventListener('click', clearError);
signOut.addEventListener('click', async () => {
  live.stop();
  await api.logout();
  showSignIn();
});
api.onSignedOut(() => { live.stop(); showSignIn(); });

/** Leaves the open board: its room, its timers and any panel open over it. */
function closeBoard() {
  if (!board) return;
  live.leave(`project:${board.projectId}`);
  board.dispose();
  board = null;
}
window.addEventListener('hashchange', () => route());

function signedIn() {
  const user = api.user();
  who.textContent = user ? user.display_name : '';
  signOut.hidden = false;
  liveButton.hidden = false;
  live.join(`user:${user.id}`);
}

function showSignIn() {
  closeBoard();
  showing = 'sign-in';
  who.textContent = '';
  signOut.hidden = true;
  liveButton.hidden = true;
  fill(crumbs);
  const form = (title, fields, submit) => {
    const node = h('form', { class: 'card-form', 'aria-label': title }, h('h2', {}, title), fields,
      h('button', { type: 'submit', class: 'primary' }, title));
    node.addEventListener('submit', async (event) => {
      event.preventDefault();
      const values = Object.fromEntries(new FormData(node));
      try {
        await submit(values);
        clearError();
        signedIn();
        route();
      } catch (error) { showError(error); }
    });
    return node;
  };
  const input = (label, name, type, extra = {}) => h('label', { class: 'field' }, h('span', {}, label),
    h('input', { name, type, required: true, ...extra }));
  fill(main, h('div', { class: 'auth' },
    form('Sign in', [input('E-mail', 'email', 'email', { autocomplete: 'username' }),
      input('Password', 'password', 'password', { autocomplete: 'current-password' })],
    (v) => api.login(v.email, v.password)),
    form('Create an account', [input('Name', 'display_name', 'text', { maxLength: 100, autocomplete: 'name' }),
      input('E-mail', 'email', 'email', { autocomplete: 'email', maxLength: 254 }),
      input('Password', 'password', 'password', { minLength: 8, maxLength: 128, autocomplete: 'new-password' })],
    (v) => api.register(v.email, v.password, v.display_name))));
}

async function showList() {
  showing = 'list';
  fill(crumbs);
  let projects;
  try {
    projects = (await api.all('/projects?limit=200')).items;
  } catch (error) { showError(error); return; }
  if (showing !== 'list') return;
  const key = h('input', { name: 'key', required: true, maxLength: 10, pattern: '[A-Za-z][A-Za-z0-9]{1,9}', placeholder: 'WEB' });
  const name = h('input', { name: 'name', required: true, maxLength: 255, placeholder: 'Website' });
  const create = h('form', { class: 'new-project', 'aria-label': 'New project' },
    h('h2', {}, 'New project'),
    h('label', { class: 'field' }, h('span', {}, 'Key'), key),
    h('label', { class: 'field' }, h('span', {}, 'Name'), name),
    h('button', { type: 'submit', class: 'primary' }, 'Create project'));
  create.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const project = await api.post('/projects', { key: key.value, name: name.value });
      location.hash = `#/projects/${project.id}`;
    } catch (error) { showError(error); }
  });
  fill(main, h('section', { class: 'projects' },
    h('h1', {}, 'Projects'),
    projects.length === 0 ? h('p', {}, 'No projects yet: create one, or ask a teammate to invite you.') : null,
    h('ul', { class: 'project-list' }, projects.map((p) => {
      const a = p.aggregation;
      return h('li', {},
        h('a', { href: `#/projects/${p.id}`, dataset: { key: p.key } },
          h('span', { class: 'key' }, p.key), ' ', h('span', { class: 'name' }, p.name)),
        h('span', { class: `status status-${p.derived_status}` }, CATEGORY_NAMES[p.derived_status] || p.derived_status),
        p.archived_at ? h('span', { class: 'badge' }, 'archived') : null,
        h('span', { class: 'counts' }, `${a.total} tasks · ${a.todo} to do · ${a.in_progress + a.in_review} in progress · ${a.issue} issue · ${a.done} done`));
    })),
    create));
}

async function showBoard(projectId) {
  showing = 'board';
  const root = h('div', { class: 'board', id: 'board', 'aria-busy': 'true' });
  fill(main, root);
  const next = new Board(root, projectId, { openTask, openMembers });
  board = next;
  try {
    await next.load();
  } catch (error) {
    showError(error);
    return;
  }
  if (board !== next) return;
  root.removeAttribute('aria-busy');
  fill(crumbs, h('span', {}, '/ '), h('a', { href: '#/' }, 'Projects'), h('span', {}, ` / ${next.project.key}`));
  document.title = `${next.project.key} · Tasklane`;
  // Resume from the board's own `seq`: whatever committed after the read arrives as events.
  live.join(`project:${projectId}`, () => next.seq);
}

function route() {
  if (!api.user()) return;
  const match = /^#\/projects\/([0-9a-f-]{36})$/.exec(location.hash);
  closeBoard();
  document.title = 'Tasklane';
  clearTimeout(listRefresh);
  clearError();
  if (match) showBoard(match[1]);
  else showList();
}

async function boot(attempt = 0) {
  try {
    await api.claimTab();
    if (await api.resume()) {
      clearError();
      signedIn();
      route();
      return;
    }
  } catch (error) {
    // The session may be fine and the server briefly out of reach: try again, keep the session.
    if (api.hasSession()) {
      showError(error);
      fill(main, h('p', {}, 'Reaching the server…'));
      setTimeout(() => boot(attempt + 1), Math.min(8000, 1000 * 2 ** attempt));
      return;
    }
  }
  showSignIn();
}

boot();
