// The chat view: a conversation's history (older pages on demand), live messages, the composer.

import type { Message, Target, TidingsClient } from "../../sdk/js/src/index.js";
import { h, inputForm } from "./dom.js";

const PAGE = 30;

export class ChatView {
  readonly element: HTMLElement;
  private readonly list = h("div", { class: "messages", "data-testid": "messages" });
  private readonly shown = new Set<string>();
  private olderButton: HTMLButtonElement | null = null;
  private newest = 0;

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
    this.element = h("section", { class: "chat" }, h("header", {}, title), this.list, composer);
  }

  /** Loads the newest page; older pages follow with the button at the top. */
  async open(): Promise<void> {
    await this.loadOlder(undefined);
  }

  private async loadOlder(before: number | undefined): Promise<void> {
    const page = await this.client.rest.history(this.conv, { limit: PAGE, before }).catch(() => ({ messages: [] as Message[], next_before: null }));
    const top = this.list.firstChild?.nextSibling ?? null;
    // Newest first from the server: insert each older message above the ones shown.
    for (const message of [...page.messages].reverse()) this.add(message, top);
    this.olderButton?.remove();
    this.olderButton = null;
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

  /** A live message of this conversation. */
  receive(message: Message): void {
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

  private add(message: Message, before: Node | null): void {
    if (this.shown.has(message.msg_id)) return;
    this.shown.add(message.msg_id);
    this.newest = Math.max(this.newest, message.conv_seq);
    const body = message.body as { type: string; text?: string; name?: string };
    const text = body.type === "text" ? body.text ?? "" : `[${body.type}${body.name ? `: ${body.name}` : ""}]`;
    const mine = message.from === this.me;
    const node = h(
      "div",
      { class: mine ? "msg mine" : "msg", "data-seq": String(message.conv_seq) },
      mine ? null : h("div", { class: "from" }, message.from),
      h("div", { class: "text" }, text),
    );
    if (before) this.list.insertBefore(node, before);
    else this.list.append(node);
  }

  private markRead(): void {
    if (this.newest > 0) this.client.read(this.conv, this.newest);
  }
}
