// The chat view: a conversation's history (older pages on demand), live messages, the composer,
// and what can be done to a message: edit and recall one's own, delete for me, clear for me,
// react. Changes arrive as entries (from this user's other devices and from other users) and
// apply to the messages shown. A direct chat shows the peer's presence; every chat shows who is
// typing.

import { applyChange, type Entry, type Message, type MessageChange, type Presence, type Target, type TidingsClient, type Typing } from "../../sdk/js/src/index.js";
import { h, inputForm } from "./dom.js";

const PAGE = 30;
/** The recall window the server applies by default (`recall_window_secs`, 120); it decides. */
const RECALL_WINDOW_MS = 120_000;
/** How long "Clear for me" waits for its confirming second click. */
const CONFIRM_MS = 4_000;
/** The reaction every message offers (any other key a message has is shown too). */
const QUICK_REACTION = "👍";
/** How often typing is told while the composer changes (the server relays one per 2 s). */
const TYPING_EVERY_MS = 2_000;

/** A `reaction` entry: `user` added (or removed) `key` on the message `msg_id`. */
interface ReactionEntry extends Entry {
  conv: string;
  msg_id: string;
  user: string;
  key: string;
  added: boolean;
}

interface Shown {
  message: Message;
  node: HTMLElement;
}

export class ChatView {
  readonly element: HTMLElement;
  private readonly list = h("div", { class: "messages", "data-testid": "messages" });
  private readonly error = h("div", { class: "error", "data-testid": "chat-error" });
  /** The messages shown, by msg_id. */
  private readonly shown = new Map<string, Shown>();
  private olderButton: HTMLButtonElement | null = null;
  /** Where the next older page starts (`before`), while there is one. */
  private olderCursor: number | null = null;
  private newest = 0;
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private readonly status = h("span", { class: "status", "data-testid": "peer-status" });
  private readonly typingLine = h("div", { class: "typing", "data-testid": "typing" });
  /** Who is typing here, and the timer that ends it. */
  private readonly typists = new Map<string, ReturnType<typeof setTimeout>>();
  private lastTyping = 0;

  constructor(
    private readonly client: TidingsClient,
    private readonly me: string,
    readonly conv: string,
    private readonly target: Target,
    title: string,
  ) {
    const composer = inputForm([{ name: "text", placeholder: "Message" }], "Send", async ({ text }) => {
      await this.client.sendText(this.target, text);
    });
    composer.classList.add("composer");
    composer.querySelector("input")?.addEventListener("input", () => this.tellTyping());
    const heading = h("span", {}, title, " ", this.status);
    this.element = h("section", { class: "chat" }, h("header", {}, heading, this.clearButton()), this.error, this.list, this.typingLine, composer);
  }

  /** The peer of a direct chat, whose presence the header shows. */
  get peer(): string | null {
    return "user" in this.target ? this.target.user : null;
  }

  /** A watched user's presence: shown when it is this chat's peer. */
  presence(presence: Presence): void {
    if (presence.user !== this.peer) return;
    const seen = presence.last_seen ? `last seen ${new Date(presence.last_seen).toLocaleTimeString()}` : "offline";
    this.status.textContent = presence.online ? "online" : seen;
    this.status.className = presence.online ? "status online" : "status";
  }

  /** Someone typing here: shown until they pause, send, or `expires_in` passes. */
  typing(typing: Typing): void {
    if (typing.conv !== this.conv) return;
    this.stopTyping(typing.user);
    if (typing.state === "typing") {
      this.typists.set(typing.user, this.later(typing.expires_in * 1000, () => this.stopTyping(typing.user)));
    }
    this.showTypists();
  }

  private stopTyping(user: string): void {
    const timer = this.typists.get(user);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.timers.delete(timer);
    this.typists.delete(user);
    this.showTypists();
  }

  private showTypists(): void {
    const users = [...this.typists.keys()];
    this.typingLine.textContent = users.length === 0 ? "" : `${users.join(", ")} ${users.length === 1 ? "is" : "are"} typing…`;
  }

  private tellTyping(): void {
    const now = Date.now();
    if (now - this.lastTyping < TYPING_EVERY_MS) return;
    this.lastTyping = now;
    this.client.typing(this.conv);
  }

  /** A `reaction` entry of this conversation: the counts, and whether this user reacted. */
  reaction(entry: Entry): void {
    const r = entry as ReactionEntry;
    const shown = this.shown.get(r.msg_id);
    if (!shown) return;
    const counts = { ...((shown.message.reactions as Record<string, number> | undefined) ?? {}) };
    counts[r.key] = Math.max(0, (counts[r.key] ?? 0) + (r.added ? 1 : -1));
    if (counts[r.key] === 0) delete counts[r.key];
    let reacted = (shown.message.reacted as string[] | undefined) ?? [];
    if (r.user === this.me) reacted = r.added ? [...new Set([...reacted, r.key])] : reacted.filter((k) => k !== r.key);
    const message = { ...shown.message, reactions: counts, reacted };
    const node = this.render(message);
    shown.node.replaceWith(node);
    this.shown.set(r.msg_id, { message, node });
  }

  /** "Clear for me": the first click asks, a second within CONFIRM_MS clears up to the newest message. */
  private clearButton(): HTMLButtonElement {
    const button = h("button", { class: "quiet", "data-action": "clear" }, "Clear for me");
    let armed: ReturnType<typeof setTimeout> | null = null;
    const arm = (on: boolean) => {
      button.textContent = on ? "Clear all for me?" : "Clear for me";
      button.classList.toggle("danger", on);
    };
    button.addEventListener("click", () => {
      if (armed) {
        clearTimeout(armed);
        this.timers.delete(armed);
        armed = null;
        arm(false);
        this.act(this.client.clear(this.conv).then((c) => this.change({ kind: "cleared", conv: c.conv, up_to: c.up_to })));
        return;
      }
      arm(true);
      armed = this.later(CONFIRM_MS, () => {
        armed = null;
        arm(false);
      });
    });
    return button;
  }

  /** Loads the newest page; older pages follow with the button at the top. */
  async open(): Promise<void> {
    await this.loadOlder(undefined);
  }

  /** Stops the view's timers (another conversation was opened). */
  close(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private async loadOlder(before: number | undefined): Promise<void> {
    const page = await this.client.rest.history(this.conv, { limit: PAGE, before }).catch(() => ({ messages: [] as Message[], next_before: null }));
    const top = this.olderButton?.nextSibling ?? this.list.firstChild;
    // Newest first from the server: insert each older message above the ones shown.
    for (const message of [...page.messages].reverse()) this.add(message, top);
    this.olderButton?.remove();
    this.olderButton = null;
    this.olderCursor = page.next_before ?? null;
    if (page.next_before != null) {
      const cursor = page.next_before;
      this.olderButton = h("button", { onclick: () => void this.loadOlder(cursor) }, "Load older messages");
      this.list.prepend(this.olderButton);
    }
    if (before === undefined) {
      this.list.scrollTop = this.list.scrollHeight;
      this.markRead();
    }
  }

  /** A live message of this conversation (its sender is no longer typing). */
  receive(message: Message): void {
    this.stopTyping(message.from);
    this.add(message, null);
    this.list.scrollTop = this.list.scrollHeight;
    this.markRead();
  }

  /**
   * Fetches what is newer than the newest message shown: a large group (read diffusion) sends
   * `group_advanced` entries instead of its messages.
   */
  async catchUp(): Promise<void> {
    for await (const page of this.client.rest.pages(this.conv, { order: "oldest", after: this.newest, limit: 100 })) {
      for (const message of page) this.add(message, null);
    }
    this.list.scrollTop = this.list.scrollHeight;
    this.markRead();
  }

  /** A recall, edit or removal of messages of this conversation: from an entry, or from this page's own action. */
  change(change: MessageChange): void {
    if (change.kind === "cleared" && change.conv === this.conv && this.olderCursor !== null && this.olderCursor <= change.up_to + 1) {
      // Everything older is cleared too.
      this.olderButton?.remove();
      this.olderButton = null;
      this.olderCursor = null;
    }
    for (const [msgId, shown] of [...this.shown]) {
      const next = applyChange(shown.message, change);
      if (next === shown.message) continue;
      if (next === null) {
        shown.node.remove();
        this.shown.delete(msgId);
        continue;
      }
      const node = this.render(next);
      shown.node.replaceWith(node);
      this.shown.set(msgId, { message: next, node });
    }
  }

  private add(message: Message, before: Node | null): void {
    if (this.shown.has(message.msg_id)) return;
    this.newest = Math.max(this.newest, message.conv_seq);
    const node = this.render(message);
    this.shown.set(message.msg_id, { message, node });
    if (before) this.list.insertBefore(node, before);
    else this.list.append(node);
  }

  /** One message: its text (or that it was recalled), "(edited)", and what this user can do to it. */
  private render(message: Message): HTMLElement {
    const mine = message.from === this.me;
    const body = message.body as { type: string; text?: string; name?: string } | undefined;
    const line = message.recalled
      ? h("div", { class: "line" }, h("span", { class: "text recalled" }, "message recalled"))
      : h(
          "div",
          { class: "line" },
          h("span", { class: "text" }, body?.type === "text" ? body.text ?? "" : `[${body?.type}${body?.name ? `: ${body.name}` : ""}]`),
          message.edit_seq ? h("span", { class: "edited", title: `edited ${new Date(message.edited_at ?? 0).toLocaleString()}` }, "(edited)") : null,
        );
    const actions = h("div", { class: "actions" });
    const node = h(
      "div",
      { class: mine ? "msg mine" : "msg", "data-seq": String(message.conv_seq), "data-msg": message.msg_id },
      mine ? null : h("div", { class: "from" }, message.from),
      line,
      message.recalled ? null : this.reactions(message),
      actions,
    );
    if (mine && !message.recalled && body?.type === "text") {
      actions.append(h("button", { "data-action": "edit", onclick: () => this.startEdit(line, message) }, "Edit"));
    }
    const left = message.ts + RECALL_WINDOW_MS - Date.now();
    if (mine && !message.recalled && left > 0) {
      const recall = h("button", { "data-action": "recall", onclick: () => this.act(this.client.recall(this.conv, message.msg_id).then((r) => this.change({ kind: "recalled", conv: r.conv, conv_seq: r.conv_seq, msg_id: r.msg_id, recalled: r.by === undefined ? { ts: r.ts } : { by: r.by, ts: r.ts } }))) }, "Recall");
      actions.append(recall);
      this.later(left, () => recall.remove());
    }
    const counts = (message.reactions as Record<string, number> | undefined) ?? {};
    if (!message.recalled && !(QUICK_REACTION in counts)) {
      actions.append(h("button", { "data-action": "react", onclick: () => this.react(message, QUICK_REACTION, true) }, QUICK_REACTION));
    }
    actions.append(h("button", { "data-action": "hide", onclick: () => this.act(this.client.hide(this.conv, message.conv_seq).then((x) => this.change({ kind: "removed", conv: x.conv, conv_seq: x.conv_seq }))) }, "Delete for me"));
    return node;
  }

  /**
   * The message's reactions, each a button that adds or takes back this user's own (null when
   * it has none). Counts change when the `reaction` entry arrives.
   */
  private reactions(message: Message): HTMLElement | null {
    const counts = (message.reactions as Record<string, number> | undefined) ?? {};
    const mine = new Set((message.reacted as string[] | undefined) ?? []);
    const keys = Object.keys(counts);
    if (keys.length === 0) return null;
    const bar = h("span", { class: "reactions" });
    for (const key of keys) {
      const on = mine.has(key);
      bar.append(h("button", { class: on ? "reaction on" : "reaction", "data-reaction": key, onclick: () => this.react(message, key, !on) }, `${key} ${counts[key]}`));
    }
    return bar;
  }

  private react(message: Message, key: string, added: boolean): void {
    this.act(this.client.react(this.conv, message.msg_id, key, added));
  }

  /** Replaces a message's text with a form that edits it (Enter saves, Escape cancels). */
  private startEdit(line: HTMLElement, message: Message): void {
    const text = (message.body as { text?: string }).text ?? "";
    const input = h("input", { name: "edit", autocomplete: "off" });
    input.value = text;
    const cancel = () => form.replaceWith(line);
    const form = h("form", { class: "edit" }, input, h("button", { type: "submit" }, "Save"), h("button", { type: "button", onclick: cancel }, "Cancel"));
    input.addEventListener("keydown", (event) => {
      if ((event as KeyboardEvent).key === "Escape") cancel();
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const value = input.value.trim();
      if (!value || value === text) return cancel();
      // Expect the version shown: an edit from another device in between is a conflict.
      const edited = this.client.editText(this.conv, message.msg_id, value, message.edit_seq ?? 0);
      this.act(edited.then((e) => {
        cancel();
        this.change({ kind: "edited", conv: e.conv, conv_seq: e.conv_seq, msg_id: e.msg_id, body: { type: "text", text: value }, edit_seq: e.edit_seq, edited_at: e.edited_at });
      }), cancel);
    });
    line.replaceWith(form);
    input.focus();
  }

  /** Runs an action; a refusal (the window passed, a conflict) shows above the messages. */
  private act(action: Promise<unknown>, failed?: () => void): void {
    this.error.textContent = "";
    action.catch((e: unknown) => {
      this.error.textContent = e instanceof Error ? e.message : String(e);
      failed?.();
    });
  }

  private later(ms: number, run: () => void): ReturnType<typeof setTimeout> {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      run();
    }, ms);
    this.timers.add(timer);
    return timer;
  }

  private markRead(): void {
    if (this.newest > 0) this.client.read(this.conv, this.newest);
  }
}
