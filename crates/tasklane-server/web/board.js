// One project's board: its columns and cards, kept current from the project's events, with
// inline creation, drag and drop (pointer events: mouse, pen and touch alike) and moves from the
// keyboard. Every write goes through the API; the board shows what the server answered.

import * as api from './api.js';
import { h, fill, announce, showError, initials, CATEGORY_NAMES } from './dom.js';

/** How far a pointer travels before a press becomes a drag. */
const DRAG_THRESHOLD_PX = 5;

const byRank = (a, b) => (a.rank < b.rank ? -1 : a.rank > b.rank ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

export class Board {
  constructor(root, projectId, { openTask, openMembers }) {
    this.root = root;
    this.projectId = projectId;
    this.openTask = openTask;
    this.openMembers = openMembers;
    this.tasks = new Map();
    /** Tasks that left the board (archived or deleted) → the version they left at. */
    this.gone = new Map();
    this.labels = new Map();
    this.statuses = [];
    this.members = [];
    this.project = null;
    /** The last event `seq` the board reflects: where a reconnection resumes. */
    this.seq = 0;
    this.drag = null;
    this.suppressClick = false;
    this.renderQueued = false;
    this.listeners = new Set();
    this.frameListeners = new Set();
  }

  /** Calls `listener(task)` whenever a task changes or leaves (`task.gone`). */
  watch(listener) { this.listeners.add(listener); return () => this.listeners.delete(listener); }

  /** Calls `listener(frame)` with every event frame of the project, after the board took it. */
  watchEvents(listener) { this.frameListeners.add(listener); return () => this.frameListeners.delete(listener); }

  /**
   * Reads the whole board. The first task page comes first: its tag carries the project's `seq`,
   * read before the page, and everything else (the project, columns, labels, members, further
   * pages) is read after it, so nothing on the board is older than that `seq` and the join from
   * it misses nothing.
   */
  async load() {
    const id = this.projectId;
    // Frames that come while the board is read are dropped: the join from the new `seq`
    // replays them, and a frame applied now could move `seq` past events the page never saw.
    const loading = (this.loading = (this.loading || 0) + 1);
    this.ready = false;
    const first = await api.request('GET', `/projects/${id}/tasks?order=board&limit=200`, { full: true });
    const tagged = /"(\d+)\./.exec(first.headers.get('etag') || '');
    const [project, statuses, labels, members, rest] = await Promise.all([
      api.get(`/projects/${id}`),
      api.get(`/projects/${id}/statuses`),
      api.get(`/projects/${id}/labels`),
      api.get(`/projects/${id}/members`),
      first.body.next_cursor
        ? api.all(`/projects/${id}/tasks?order=board&limit=200&cursor=${encodeURIComponent(first.body.next_cursor)}`)
        : { items: [] },
    ]);
    // Another read of the board started after this one: its answer wins.
    if (this.disposed || loading !== this.loading) return;
    this.project = project;
    this.statuses = statuses;
    this.labels = new Map(labels.map((l) => [l.id, l]));
    this.members = members;
    this.tasks = new Map();
    // A task that left the board at a version at least as new as the page's stays gone.
    for (const task of [...first.body.items, ...rest.items]) {
      const left = this.gone.get(task.id);
      if (left === undefined || left < task.row_version) {
        this.tasks.set(task.id, task);
        this.gone.delete(task.id);
      }
    }
    this.seq = tagged ? Number(tagged[1]) : 0;
    this.ready = true;
    this.render();
  }

  /** The board is no longer shown: its timers stop and the panels over it close. */
  dispose() {
    this.disposed = true;
    clearTimeout(this.countsTimer);
    for (const dialog of document.querySelectorAll('dialog[open]')) dialog.close();
  }

  get myRole() { return this.project?.my_role; }

  /** Takes the server's answer about a task (a response or an event), unless it is older than what is shown. */
  takeTask(task) {
    // Same version, same task: comment counts and label names change without a new version
    // and are already applied, so an older copy of that version must not undo them.
    const current = this.tasks.get(task.id);
    if (current && current.row_version >= task.row_version) return;
    const left = this.gone.get(task.id);
    if (left !== undefined && left >= task.row_version) return;
    if (task.archived_at) {
      this.tasks.delete(task.id);
      this.gone.set(task.id, task.row_version);
      this.emit({ ...task, gone: true });
    } else {
      this.tasks.set(task.id, task);
      this.gone.delete(task.id);
      this.emit(task);
    }
    this.scheduleRender();
  }

  forgetTask(id) {
    const task = this.tasks.get(id);
    this.tasks.delete(id);
    this.gone.set(id, Infinity);
    this.emit({ ...(task || { id }), gone: true });
    this.scheduleRender();
  }

  emit(task) { for (const listener of this.listeners) listener(task); }

  /** Applies one event frame of this project. Frames come in `seq` order, each once. */
  apply(frame) {
    if (!this.ready) return;
    if (typeof frame.seq === 'number') this.seq = Math.max(this.seq, frame.seq);
    this.root.dataset.seq = String(this.seq);
    const data = frame.data;
    switch (frame.type) {
      case 'task_created': case 'task_updated': case 'task_moved': case 'task_archived': case 'task_unarchived':
        this.takeTask(data.task);
        this.refreshCounts();
        break;
      case 'task_deleted':
        this.forgetTask(data.task_id);
        this.refreshCounts();
        break;
      case 'comment_added': case 'comment_deleted': {
        const task = this.tasks.get(data.task_id);
        if (task) this.tasks.set(task.id, { ...task, comment_count: data.comment_count });
        this.scheduleRender();
        break;
      }
      case 'status_created': case 'status_updated': case 'status_deleted':
        this.statuses = data.statuses;
        this.scheduleRender();
        break;
      case 'label_created': case 'label_updated':
        this.labels.set(data.label.id, data.label);
        for (const [id, task] of this.tasks) {
          if (task.labels.some((l) => l.id === data.label.id)) {
            this.tasks.set(id, { ...task, labels: task.labels.map((l) => (l.id === data.label.id ? data.label : l)) });
          }
        }
        this.scheduleRender();
        break;
      case 'label_deleted':
        this.labels.delete(data.label_id);
        for (const [id, task] of this.tasks) {
          this.tasks.set(id, { ...task, labels: task.labels.filter((l) => l.id !== data.label_id) });
        }
        this.scheduleRender();
        break;
      case 'member_added': case 'member_removed':
        api.get(`/projects/${this.projectId}/members`).then((members) => { this.members = members; this.scheduleRender(); }, showError);
        break;
      case 'project_updated': case 'project_archived': case 'project_restored':
        this.project = { ...data.project, my_role: this.myRole };
        this.scheduleRender();
        break;
      case 'project_status_changed':
        this.project = { ...this.project, derived_status: data.new_status, aggregation: data.aggregation };
        this.scheduleRender();
        break;
      default:
        break;
    }
    for (const listener of this.frameListeners) listener(frame);
  }

  /**
   * The counts after task events, read back from the server so they are exact: at most one read
   * per 150 ms however busy the board, and always one after the last event.
   */
  refreshCounts() {
    if (this.countsTimer || this.disposed) return;
    this.countsTimer = setTimeout(async () => {
      this.countsTimer = null;
      const asked = (this.countsAsked = (this.countsAsked || 0) + 1);
      try {
        const aggregation = await api.get(`/projects/${this.projectId}/aggregation`);
        // Reads may overlap: an answer to an earlier read never replaces a later one's.
        if (this.disposed || asked < (this.countsShown || 0)) return;
        this.countsShown = asked;
        this.project = { ...this.project, aggregation, derived_status: aggregation.derived_status };
        this.scheduleRender();
      } catch (error) {
        showError(error);
      }
    }, 150);
  }

  scheduleRender() {
    if (this.renderQueued) return;
    this.renderQueued = true;
    requestAnimationFrame(() => {
      this.renderQueued = false;
      this.render();
    });
  }

  column(statusId) {
    return [...this.tasks.values()].filter((t) => t.status.id === statusId).sort(byRank);
  }

  /**
   * Draws the board. Columns, their titles and their new-task forms are kept from one drawing to
   * the next, so typing in a form is never interrupted by others' changes; only the cards and
   * the project's head are drawn again.
   */
  render() {
    // A drag in progress keeps the cards it moves; the board is drawn when it ends.
    if (this.drag?.started || this.disposed || !this.project) return;
    const focused = document.activeElement?.closest?.('.card')?.dataset.id;
    const p = this.project;
    const a = p.aggregation;
    this.root.dataset.seq = String(this.seq);
    const head = h('section', { class: 'project-head', 'aria-label': 'Project' },
      h('h1', {}, h('span', { class: 'key' }, p.key), ' ', p.name),
      h('span', { class: `status status-${p.derived_status}`, id: 'derived-status', dataset: { status: p.derived_status } },
        CATEGORY_NAMES[p.derived_status] || p.derived_status),
      p.archived_at ? h('span', { class: 'badge' }, 'archived') : null,
      h('span', { class: 'badge', title: 'Your role in this project' }, this.myRole),
      h('button', { type: 'button', class: 'members-button', onclick: () => this.openMembers(this) }, `Members (${this.members.length})`),
      h('p', { class: 'counts', id: 'counts', 'aria-label': 'Task counts' },
        `${a.total} tasks · ${a.todo} to do · ${a.in_progress} in progress · ${a.in_review} in review · ${a.issue} issue · ${a.done} done`),
      h('p', { class: 'hint' }, 'Keyboard: arrows move between cards, Alt+arrows move the focused card, Enter opens it.'));
    const headFocused = this.head?.contains(document.activeElement) && document.activeElement.className;
    if (this.head) this.head.replaceWith(head);
    else this.root.append(head);
    this.head = head;
    if (headFocused) head.querySelector(`.${headFocused}`)?.focus();

    if (!this.columnsNode) {
      this.columnsNode = h('div', { class: 'columns' });
      this.columnNodes = new Map();
      this.root.append(this.columnsNode);
    }
    const wanted = new Set(this.statuses.map((s) => s.id));
    for (const [id, node] of this.columnNodes) {
      if (!wanted.has(id)) { node.section.remove(); this.columnNodes.delete(id); }
    }
    this.statuses.forEach((status, index) => {
      let node = this.columnNodes.get(status.id);
      if (!node) {
        node = this.makeColumn(status);
        this.columnNodes.set(status.id, node);
      }
      this.drawColumn(node, status);
      if (this.columnsNode.children[index] !== node.section) {
        this.columnsNode.insertBefore(node.section, this.columnsNode.children[index] || null);
      }
    });
    if (focused) this.root.querySelector(`.card[data-id="${focused}"]`)?.focus();
  }

  makeColumn(status) {
    const titleId = `column-${status.id}`;
    const name = h('span', { class: 'name' });
    const count = h('span', { class: 'count' });
    const cards = h('ol', { class: 'cards' });
    const input = h('input', {
      type: 'text', name: 'title', required: true, maxLength: 500, placeholder: 'Add a task…',
      dataset: { newTaskIn: status.id },
    });
    const button = h('button', { type: 'submit' }, 'Add');
    const form = h('form', { class: 'new-task', onsubmit: (e) => this.create(e, status.id, input) }, input, button);
    const section = h('section', { class: 'column', dataset: { status: status.id }, 'aria-labelledby': titleId },
      h('h2', { id: titleId }, name, count), cards, form);
    return { section, name, count, cards, input, button };
  }

  drawColumn(node, status) {
    const tasks = this.column(status.id);
    node.section.className = `column category-${status.category}`;
    node.name.textContent = status.name;
    node.count.textContent = String(tasks.length);
    node.cards.setAttribute('aria-label', `${status.name}: ${tasks.length} tasks`);
    node.input.setAttribute('aria-label', `New task in ${status.name}`);
    node.button.setAttribute('aria-label', `Add the task to ${status.name}`);
    fill(node.cards, tasks.map((t) => this.renderCard(t)));
  }

  renderCard(task) {
    const assignee = task.assignee ? task.assignee.display_name : 'unassigned';
    const card = h('li', {
      class: 'card', tabIndex: 0, dataset: { id: task.id, key: task.key },
      'aria-label': `${task.key}: ${task.title}. Priority ${task.priority}, ${assignee}` +
        (task.labels.length ? `, labels ${task.labels.map((l) => l.name).join(', ')}` : ''),
      onclick: () => { if (this.suppressClick) { this.suppressClick = false; return; } this.openTask(this, task.id); },
      onkeydown: (e) => this.key(e, task),
      onpointerdown: (e) => this.pointerDown(e, task),
    },
    h('div', { class: 'card-top' },
      h('span', { class: 'key' }, task.key),
      h('span', { class: `priority priority-${task.priority}`, title: `Priority: ${task.priority}` }, task.priority),
      h('span', { class: 'handle', 'aria-hidden': 'true', title: 'Drag to move' }, '⠿')),
    h('div', { class: 'title' }, task.title),
    h('div', { class: 'card-meta' },
      task.labels.map((l) => h('span', { class: 'label', dataset: { color: l.color } }, l.name)),
      task.comment_count ? h('span', { class: 'comments' }, `${task.comment_count} comment${task.comment_count === 1 ? '' : 's'}`) : null,
      task.assignee ? h('span', { class: 'assignee', title: `Assignee: ${assignee}` }, initials(task.assignee.display_name)) : null));
    // Label colours come from the API; set through the CSSOM, which the page's policy allows.
    for (const chip of card.querySelectorAll('.label')) chip.style.setProperty('--label', chip.dataset.color);
    return card;
  }

  async create(event, statusId, input) {
    event.preventDefault();
    const title = input.value.trim();
    if (!title) return;
    input.value = '';
    try {
      const task = await api.post(`/projects/${this.projectId}/tasks`, { title, status_id: statusId });
      this.takeTask(task);
      this.refreshCounts();
      announce(`Created ${task.key} in ${task.status.name}`);
    } catch (error) {
      if (!input.value) input.value = title;
      showError(error);
    }
  }

  /** Moves `task` to `statusId`, before `beforeId` or after `afterId` (neither: the end). */
  async move(task, statusId, { beforeId = null, afterId = null } = {}) {
    const body = { status_id: statusId };
    if (beforeId) body.before_id = beforeId;
    else if (afterId) body.after_id = afterId;
    const card = this.root.querySelector(`.card[data-id="${task.id}"]`);
    card?.classList.add('pending');
    try {
      const moved = await api.post(`/tasks/${task.id}/move`, body);
      this.takeTask(moved);
      this.refreshCounts();
      announce(`Moved ${moved.key} to ${moved.status.name}`);
    } catch (error) {
      showError(error);
    } finally {
      card?.classList.remove('pending');
      this.scheduleRender();
    }
  }

  key(event, task) {
    const columns = this.statuses.map((s) => s.id);
    const at = columns.indexOf(task.status.id);
    const cards = this.column(task.status.id);
    const index = cards.findIndex((t) => t.id === task.id);
    if ((event.key === 'Enter' || event.key === ' ') && event.target === event.currentTarget) {
      event.preventDefault();
      this.openTask(this, task.id);
      return;
    }
    if (!event.key.startsWith('Arrow')) return;
    event.preventDefault();
    const moving = event.altKey;
    switch (event.key) {
      case 'ArrowLeft': case 'ArrowRight': {
        const step = event.key === 'ArrowLeft' ? -1 : 1;
        if (moving) {
          if (columns[at + step]) this.move(task, columns[at + step]);
          break;
        }
        // Focus goes to the nearest column that has cards, at about the same height.
        for (let i = at + step; columns[i]; i += step) {
          const cardsThere = this.column(columns[i]);
          if (cardsThere.length) { this.focusCard(cardsThere[Math.min(index, cardsThere.length - 1)]); break; }
        }
        break;
      }
      case 'ArrowUp':
        if (index === 0) return;
        if (moving) this.move(task, task.status.id, { beforeId: cards[index - 1].id });
        else this.focusCard(cards[index - 1]);
        break;
      case 'ArrowDown':
        if (index === cards.length - 1) return;
        if (moving) this.move(task, task.status.id, { afterId: cards[index + 1].id });
        else this.focusCard(cards[index + 1]);
        break;
      default:
    }
  }

  focusCard(task) {
    if (task) this.root.querySelector(`.card[data-id="${task.id}"]`)?.focus();
  }

  pointerDown(event, task) {
    if (event.button !== 0 || event.target.closest('button, a, input, select, textarea')) return;
    // Touch drags from the handle only, so that a finger on a card still scrolls the board.
    if (event.pointerType === 'touch' && !event.target.closest('.handle')) return;
    const card = event.currentTarget;
    const rect = card.getBoundingClientRect();
    this.drag = {
      task, card, started: false, x: event.clientX, y: event.clientY,
      dx: event.clientX - rect.left, dy: event.clientY - rect.top, width: rect.width, height: rect.height,
    };
    card.setPointerCapture(event.pointerId);
    const move = (e) => this.pointerMove(e);
    const up = (e) => {
      card.removeEventListener('pointermove', move);
      card.removeEventListener('pointerup', up);
      card.removeEventListener('pointercancel', up);
      card.removeEventListener('lostpointercapture', up);
      this.pointerUp(e, e.type !== 'pointerup');
    };
    card.addEventListener('pointermove', move);
    card.addEventListener('pointerup', up);
    card.addEventListener('pointercancel', up);
    card.addEventListener('lostpointercapture', up);
  }

  pointerMove(event) {
    const drag = this.drag;
    if (!drag) return;
    if (!drag.started) {
      if (Math.hypot(event.clientX - drag.x, event.clientY - drag.y) < DRAG_THRESHOLD_PX) return;
      drag.started = true;
      drag.placeholder = h('li', { class: 'placeholder', 'aria-hidden': 'true' });
      drag.placeholder.style.height = `${drag.height}px`;
      drag.card.after(drag.placeholder);
      drag.card.classList.add('dragging');
      drag.card.style.width = `${drag.width}px`;
    }
    drag.card.style.left = `${event.clientX - drag.dx}px`;
    drag.card.style.top = `${event.clientY - drag.dy}px`;
    // Near either edge of the columns the board scrolls, so a finger can reach every column.
    const box = this.columnsNode.getBoundingClientRect();
    if (event.clientX > box.right - 48) this.columnsNode.scrollLeft += 24;
    else if (event.clientX < box.left + 48) this.columnsNode.scrollLeft -= 24;
    const under = document.elementFromPoint(event.clientX, event.clientY);
    const list = under?.closest('.column')?.querySelector('.cards');
    if (!list) return;
    const over = under.closest('.card:not(.dragging)');
    if (over && list.contains(over)) {
      const box = over.getBoundingClientRect();
      if (event.clientY < box.top + box.height / 2) over.before(drag.placeholder);
      else over.after(drag.placeholder);
    } else if (!under.closest('.placeholder')) {
      const cards = [...list.querySelectorAll('.card:not(.dragging)')];
      const below = cards.find((c) => event.clientY < c.getBoundingClientRect().top + c.getBoundingClientRect().height / 2);
      if (below) below.before(drag.placeholder);
      else list.append(drag.placeholder);
    }
  }

  pointerUp(event, cancelled) {
    const drag = this.drag;
    this.drag = null;
    if (!drag?.started) return;
    this.suppressClick = true;
    setTimeout(() => { this.suppressClick = false; }, 0);
    const { placeholder, card, task } = drag;
    const neighbour = (step) => {
      let node = placeholder[step];
      while (node === card) node = node[step];
      return node?.classList.contains('card') ? node : null;
    };
    const beforeId = neighbour('nextElementSibling')?.dataset.id ?? null;
    const afterId = neighbour('previousElementSibling')?.dataset.id ?? null;
    const column = placeholder.closest('.column');
    card.classList.remove('dragging');
    for (const property of ['left', 'top', 'width']) card.style.removeProperty(property);
    placeholder.replaceWith(card);
    if (cancelled || !column) { this.render(); return; }
    const statusId = column.dataset.status;
    // Dropped where it already was: nothing to write.
    const old = this.column(task.status.id);
    const i = old.findIndex((t) => t.id === task.id);
    if (statusId === task.status.id && (old[i + 1]?.id ?? null) === beforeId && (old[i - 1]?.id ?? null) === afterId) {
      this.render();
      return;
    }
    this.move(task, statusId, { beforeId, afterId });
  }
}
