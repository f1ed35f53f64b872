// Small DOM helpers for the demo page: elements, buttons with an accessible name, toasts.

export const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<HTMLElementTagNameMap[K]> & { dataset?: Record<string, string> } = {},
  ...children: Array<Node | string>
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  const { dataset, ...rest } = props;
  Object.assign(node, rest);
  if (dataset) Object.assign(node.dataset, dataset);
  node.append(...children);
  return node;
}

/** A button whose accessible name says what it acts on ("Delete photo.png"). */
export function button(
  label: string,
  accessibleName: string,
  onclick: () => void,
  className = '',
): HTMLButtonElement {
  const b = el('button', { type: 'button', textContent: label, onclick, className });
  if (accessibleName !== label) b.setAttribute('aria-label', accessibleName);
  return b;
}

/** A name that is cut with an ellipsis when long; the whole name on hover (title) and on focus. */
export function nameLabel(name: string): HTMLSpanElement {
  const span = el('span', { className: 'name', title: name, tabIndex: 0 }, name);
  return span;
}

/**
 * A short message in the corner (announced by screen readers: the region is a live status),
 * gone after a few seconds; errors stay a little longer.
 */
export function toast(text: string, kind: 'info' | 'error' = 'info'): void {
  const item = el('div', { className: `toast${kind === 'error' ? ' error' : ''}` }, text);
  const region = $('toasts');
  region.append(item);
  // Three at most: the oldest make way.
  while (region.childElementCount > 3) region.firstElementChild?.remove();
  setTimeout(() => item.remove(), kind === 'error' ? 8000 : 4000);
}
