// Tiny DOM helpers: elements are built with textContent only (no HTML from data, ever).

export const $ = (id) => document.getElementById(id);

export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") element.className = value;
    else if (key === "dataset") Object.assign(element.dataset, value);
    else if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
    else element.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export function table(element, headers, rows) {
  element.replaceChildren(
    h("thead", {}, h("tr", {}, headers.map((name) => h("th", { scope: "col" }, name)))),
    h("tbody", {}, rows),
  );
}

export function show(id, visible) {
  $(id).hidden = !visible;
}

// Money and prices arrive as decimal strings: shown as they are (no float rounding).
export function money(value) {
  if (value === null || value === undefined) return "—";
  return value;
}

export function percent(value, digits = 1) {
  if (value === null || value === undefined) return "—";
  return `${Number(value).toFixed(digits)} %`;
}

export function signed(value) {
  if (value === null || value === undefined) return { text: "—", cls: "" };
  const negative = value.startsWith("-");
  const zero = /^[-0.]*$/.test(value);
  return { text: value, cls: zero ? "" : negative ? "loss" : "gain" };
}
