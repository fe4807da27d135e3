// Building DOM nodes. User text only ever goes in through text nodes and attributes set as
// properties, never as HTML, so a task titled "<img onerror=…>" is shown as typed.

/** `h('button', {type: 'button', onclick}, 'Save')`: an element with properties and children. */
export function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key === 'class') node.className = value;
    else if (key.startsWith('aria-') || key === 'role' || key === 'for') node.setAttribute(key, value);
    else node[key] = value;
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces `node`'s children. */
export function fill(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

/** Says `text` to screen readers (the polite live region). */
export function announce(text) {
  const region = document.getElementById('announce');
  region.textContent = '';
  // A fresh text node each time, so that the same words twice are announced twice.
  requestAnimationFrame(() => { region.textContent = text; });
}

/** Shows an error: the API's problem+json `detail` when there is one. */
export function showError(error) {
  const box = document.getElementById('alert');
  document.getElementById('alert-text').textContent = error && error.message ? error.message : String(error);
  box.hidden = false;
  if (!(error && error.problem)) console.error(error);
}

export function clearError() {
  document.getElementById('alert').hidden = true;
}

/** `initials('Ada Lovelace')` → `AL`. */
export function initials(name) {
  return (name || '?').split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join('');
}

export const CATEGORY_NAMES = {
  todo: 'To do', in_progress: 'In progress', in_review: 'In review', issue: 'Issue', done: 'Done',
};
export const PRIORITIES = ['lowest', 'low', 'medium', 'high', 'highest'];
export const TASK_TYPES = ['task', 'story', 'bug', 'epic', 'subtask'];
export const ROLES = ['owner', 'editor', 'viewer'];
