// A tiny element builder: children are nodes or text (never HTML), so nothing is injected.

type Child = Node | string | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<Record<string, string | ((event: Event) => void)>> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (typeof value === "function") element.addEventListener(key.replace(/^on/, ""), value);
    else if (value !== undefined) element.setAttribute(key, value);
  }
  for (const child of children) if (child) element.append(child);
  return element;
}

/** A form with one text input per name; `submit` gets their values and may fail. */
export function inputForm(
  fields: { name: string; placeholder: string; required?: boolean }[],
  label: string,
  submit: (values: Record<string, string>) => Promise<void>,
): HTMLFormElement {
  const inputs = fields.map((f) => h("input", { name: f.name, placeholder: f.placeholder, autocomplete: "off" }));
  const error = h("div", { class: "error" });
  const form = h("form", {}, ...inputs, h("button", { type: "submit" }, label));
  const wrap = h("div", {}, form, error);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = Object.fromEntries(inputs.map((i) => [i.name, i.value.trim()]));
    if (fields.some((f) => f.required !== false && !values[f.name])) return;
    error.textContent = "";
    try {
      await submit(values);
      for (const input of inputs) input.value = "";
    } catch (e) {
      error.textContent = e instanceof Error ? e.message : String(e);
    }
  });
  return wrap as unknown as HTMLFormElement;
}
