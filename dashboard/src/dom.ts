/** Building the page: elements from tags, attributes and children; text is always text, never HTML. */

type Child = Node | string | number | null | undefined | false;
type Attributes = Record<string, string | number | boolean | undefined | ((event: Event) => void)>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Attributes = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    if (typeof value === "function") element.addEventListener(name.replace(/^on/, ""), value);
    else if (value === true) element.setAttribute(name, "");
    else element.setAttribute(name, String(value));
  }
  append(element, ...children);
  return element;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === "string" || typeof child === "number" ? document.createTextNode(String(child)) : child);
  }
}

/** A status in words and colour. */
export function badge(status: string): HTMLElement {
  return h("span", { class: `badge badge-${status}` }, status.toUpperCase());
}

export interface Column<T> {
  label: string;
  /** What the heading shows instead of the label (a link that sorts by the column). */
  header?: HTMLElement;
  value: (row: T) => Child;
  numeric?: boolean;
}

export function table<T>(caption: string, rows: T[], columns: Column<T>[], empty = "none"): HTMLElement {
  if (rows.length === 0) return h("p", { class: "empty" }, `${caption}: ${empty}`);
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      {},
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, ...columns.map((c) => h("th", { scope: "col", class: c.numeric ? "num" : undefined }, c.header ?? c.label)))),
      h("tbody", {}, ...rows.map((row) => h("tr", {}, ...columns.map((c) => h("td", { class: c.numeric ? "num" : undefined }, c.value(row)))))),
    ),
  );
}

export function section(title: string, ...children: Child[]): HTMLElement {
  return h("section", { "aria-label": title }, h("h2", {}, title), ...children);
}

/** A statement to run, with a button that copies it. */
export function runnable(statement: string): HTMLElement {
  const code = h("pre", { class: "statement" }, h("code", {}, statement));
  const copy = h("button", { type: "button", class: "copy", onclick: () => void navigator.clipboard?.writeText(statement) }, "Copy");
  return h("div", { class: "runnable" }, code, copy);
}
