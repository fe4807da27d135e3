// Dialogs over the board: a task (edit its fields, archive or delete it, comment, read its
// history) and the project's members (invite by e-mail). Each is a modal <dialog>: focus stays
// inside, Escape closes it, and focus returns to where it was.

import * as api from './api.js';
import { h, fill, announce, showError, clearError, PRIORITIES, TASK_TYPES, ROLES } from './dom.js';

function dialog(title, ...content) {
  // The board may be drawn again while the dialog is open: focus returns to the same card (or
  // control) as drawn then, found again by its id or class.
  const opener = document.activeElement;
  const cardId = opener?.closest?.('.card')?.dataset.id;
  const openerClass = opener?.className;
  const returnTo = () => (opener?.isConnected ? opener
    : cardId ? document.querySelector(`.card[data-id="${cardId}"]`)
      : openerClass ? document.querySelector(`.${openerClass.split(' ')[0]}`) : null);
  const titleId = `dialog-${Math.random().toString(36).slice(2)}`;
  const node = h('dialog', { class: 'panel', 'aria-labelledby': titleId },
    h('div', { class: 'panel-head' },
      h('h2', { id: titleId }, title),
      h('button', { type: 'button', class: 'close', 'aria-label': 'Close', onclick: () => node.close() }, '×')),
    ...content);
  node.addEventListener('close', () => { node.remove(); returnTo()?.focus?.(); });
  document.body.append(node);
  node.showModal();
  return node;
}

const field = (label, control) => h('label', { class: 'field' }, h('span', {}, label), control);
const option = (value, text, selected) => h('option', { value, selected }, text);
const when = (iso) => new Date(iso).toLocaleString();

const NOBODY = '00000000-0000-0000-0000-000000000000';

function describe(event, members) {
  const who = event.actor_id === NOBODY ? 'Tasklane'
    : members.find((m) => m.user.id === event.actor_id)?.user.display_name || 'a former member';
  const data = event.data;
  switch (event.type) {
    case 'task_created': return `${who} created ${data.task.key}`;
    case 'task_updated': return `${who} changed ${data.changed.join(', ')}`;
    case 'task_moved': return `${who} moved it to ${data.task.status.name}`;
    case 'task_archived': return `${who} archived it`;
    case 'task_unarchived': return `${who} restored it`;
    case 'comment_added': return `${who} commented`;
    case 'comment_edited': return `${who} edited a comment`;
    case 'comment_deleted': return `${who} deleted a comment`;
    default: return `${who}: ${event.type}`;
  }
}

/** The task panel for `taskId` on `board`. */
export async function openTask(board, taskId) {
  let task = board.tasks.get(taskId) || await api.get(`/tasks/${taskId}`).catch(showError);
  if (!task) return;
  clearError();
  const form = h('form', { class: 'task-form' });
  const comments = h('ol', { class: 'comments-list', 'aria-label': 'Comments' });
  const history = h('ol', { class: 'history', 'aria-label': 'History' });
  const notice = h('p', { class: 'notice', role: 'status' });
  const commentBox = h('textarea', { name: 'body', required: true, maxLength: 10000, rows: 2 });
  const node = dialog(task.key,
    notice, form,
    h('section', { class: 'panel-section' }, h('h3', {}, 'Comments'), comments,
      h('form', { class: 'comment-form', onsubmit: (e) => addComment(e) },
        field('New comment', commentBox), h('button', { type: 'submit' }, 'Comment'))),
    h('section', { class: 'panel-section' }, h('h3', {}, 'History'), history));
  node.dataset.task = task.id;
  let dirty = false;

  function fillForm() {
    dirty = false;
    const members = board.members.filter((m) => m.role !== 'viewer');
    const labelIds = new Set(task.labels.map((l) => l.id));
    fill(form,
      field('Title', h('input', { name: 'title', value: task.title, required: true, maxLength: 500 })),
      field('Description', h('textarea', { name: 'description', value: task.description || '', rows: 4, maxLength: 100000 })),
      h('div', { class: 'row' },
        field('Status', h('select', { name: 'status_id' }, board.statuses.map((s) => option(s.id, s.name, s.id === task.status.id)))),
        field('Priority', h('select', { name: 'priority' }, PRIORITIES.map((p) => option(p, p, p === task.priority)))),
        field('Type', h('select', { name: 'task_type' }, TASK_TYPES.map((t) => option(t, t, t === task.task_type))))),
      h('div', { class: 'row' },
        field('Assignee', h('select', { name: 'assignee_id' }, option('', 'Unassigned', !task.assignee),
          members.map((m) => option(m.user.id, m.user.display_name, m.user.id === task.assignee?.id)))),
        field('Due', h('input', { name: 'due_date', type: 'date', value: task.due_date || '' })),
        field('Points', h('input', { name: 'story_points', type: 'number', min: 0, max: 100, value: task.story_points ?? '' }))),
      board.labels.size ? h('fieldset', { class: 'labels' }, h('legend', {}, 'Labels'),
        [...board.labels.values()].map((l) => h('label', { class: 'check' },
          h('input', { type: 'checkbox', name: 'label', value: l.id, checked: labelIds.has(l.id) }), l.name))) : null,
      h('p', { class: 'meta' }, `Reported by ${task.reporter?.display_name || 'unknown'} · version ${task.row_version} · updated ${when(task.updated_at)}`),
      h('div', { class: 'actions' },
        h('button', { type: 'submit', class: 'primary' }, 'Save'),
        h('button', { type: 'button', onclick: () => write('archive') }, 'Archive'),
        h('button', { type: 'button', class: 'danger', onclick: () => write('delete') }, 'Delete')));
  }

  form.addEventListener('input', () => { dirty = true; });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const values = new FormData(form);
    const changes = {};
    const text = (name) => values.get(name);
    if (text('title') !== task.title) changes.title = text('title');
    if (text('description') !== (task.description || '')) changes.description = text('description') || null;
    if (text('status_id') !== task.status.id) changes.status_id = text('status_id');
    if (text('priority') !== task.priority) changes.priority = text('priority');
    if (text('task_type') !== task.task_type) changes.task_type = text('task_type');
    if (text('assignee_id') !== (task.assignee?.id || '')) changes.assignee_id = text('assignee_id') || null;
    if (text('due_date') !== (task.due_date || '')) changes.due_date = text('due_date') || null;
    if (text('story_points') !== String(task.story_points ?? '')) changes.story_points = text('story_points') === '' ? null : Number(text('story_points'));
    const labels = values.getAll('label');
    const before = task.labels.map((l) => l.id);
    if (labels.length !== before.length || labels.some((id) => !before.includes(id))) changes.label_ids = labels;
    if (Object.keys(changes).length === 0) { notice.textContent = 'Nothing changed.'; return; }
    try {
      // If-Match: a change made by someone else since the form was filled is refused (412).
      task = await api.patch(`/tasks/${task.id}`, changes, { 'if-match': `"${task.row_version}"` });
      board.takeTask(task);
      fillForm();
      notice.textContent = 'Saved.';
      announce(`Saved ${task.key}`);
      loadHistory();
    } catch (error) {
      notice.textContent = error.message;
      showError(error);
    }
  });

  async function write(action) {
    if (action === 'delete' && !confirm(`Delete ${task.key} with its sub-tasks and comments?`)) return;
    const headers = { 'if-match': `"${task.row_version}"` };
    try {
      if (action === 'delete') {
        await api.del(`/tasks/${task.id}`, headers);
        board.forgetTask(task.id);
      } else {
        board.takeTask(await api.post(`/tasks/${task.id}/archive`, undefined, headers));
      }
      board.refreshCounts();
      node.close();
    } catch (error) {
      notice.textContent = error.message;
      showError(error);
    }
  }

  async function loadComments() {
    try {
      const { items } = await api.all(`/tasks/${task.id}/comments?limit=200`);
      fill(comments, items.map(renderComment));
    } catch (error) { showError(error); }
  }

  function renderComment(comment) {
    return h('li', { dataset: { id: comment.id } },
      h('span', { class: 'who' }, comment.author?.display_name || board.members.find((m) => m.user.id === comment.author_id)?.user.display_name || 'someone'),
      ' ', h('time', { dateTime: comment.created_at }, when(comment.created_at)),
      h('p', {}, comment.body));
  }

  async function addComment(event) {
    event.preventDefault();
    try {
      const answer = await api.post(`/tasks/${task.id}/comments`, { body: commentBox.value });
      commentBox.value = '';
      const comment = answer.comment || answer;
      if (!comments.querySelector(`[data-id="${comment.id}"]`)) comments.append(renderComment(comment));
      loadHistory();
    } catch (error) {
      notice.textContent = error.message;
      showError(error);
    }
  }

  let historyAsked = 0;
  let historyShown = 0;
  async function loadHistory() {
    const asked = ++historyAsked;
    try {
      const { items } = await api.get(`/tasks/${task.id}/events?limit=1000`);
      // Reads may overlap: an earlier read's answer never replaces a later one's.
      if (asked < historyShown) return;
      historyShown = asked;
      fill(history, items.slice().reverse().map((e) =>
        h('li', {}, h('time', { dateTime: e.at }, when(e.at)), ' ', describe(e, board.members))));
    } catch (error) { showError(error); }
  }

  // Others' changes reach the open panel: the form refills unless it holds unsaved edits.
  const unwatch = board.watch((changed) => {
    if (changed.id !== task.id) return;
    if (changed.gone) { notice.textContent = `${task.key} was archived or deleted.`; return; }
    if (changed.row_version <= task.row_version) return;
    if (dirty) {
      notice.textContent = 'Someone else changed this task; saving now would be refused. Close and reopen it to see their change.';
    } else {
      task = changed;
      fillForm();
      loadHistory();
    }
  });
  // Others' comments appear, change and go as they happen; the history follows every event.
  const unwatchEvents = board.watchEvents((frame) => {
    const data = frame.data;
    if (data.task_id !== task.id && data.task?.id !== task.id) return;
    const shown = (id) => comments.querySelector(`[data-id="${id}"]`);
    if (frame.type === 'comment_added' && !shown(data.comment.id)) comments.append(renderComment(data.comment));
    if (frame.type === 'comment_edited') shown(data.comment.id)?.replaceWith(renderComment(data.comment));
    if (frame.type === 'comment_deleted') shown(data.comment_id)?.remove();
    loadHistory();
  });
  node.addEventListener('close', () => { unwatch(); unwatchEvents(); });
  fillForm();
  loadComments();
  loadHistory();
}

/** The members panel: who is in the project, and invite by e-mail. */
export function openMembers(board) {
  clearError();
  const list = h('ul', { class: 'members', 'aria-label': 'Members' });
  const email = h('input', { name: 'email', type: 'email', required: true, maxLength: 254, autocomplete: 'off' });
  const role = h('select', { name: 'role' }, ROLES.map((r) => option(r, r, r === 'editor')));
  const notice = h('p', { class: 'notice', role: 'status' });
  const show = () => fill(list, board.members.map((m) =>
    h('li', {}, h('span', { class: 'who' }, m.user.display_name), ' ', h('span', { class: 'email' }, m.user.email),
      ' ', h('span', { class: 'badge' }, m.role))));
  const node = dialog('Members', list,
    h('form', {
      class: 'invite',
      onsubmit: async (event) => {
        event.preventDefault();
        try {
          await api.post(`/projects/${board.projectId}/members`, { email: email.value, role: role.value });
          board.members = await api.get(`/projects/${board.projectId}/members`);
          notice.textContent = `Added ${email.value} as ${role.value}.`;
          email.value = '';
          show();
          board.scheduleRender();
        } catch (error) {
          notice.textContent = error.message;
          showError(error);
        }
      },
    }, h('h3', {}, 'Invite by e-mail'), field('E-mail', email), field('Role', role), h('button', { type: 'submit' }, 'Invite')),
    notice);
  node.classList.add('narrow');
  show();
}
