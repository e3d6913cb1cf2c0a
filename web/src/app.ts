// The signed-in app: one TidingsClient, the sidebar's tabs and the open chat, kept current by
// the client's entry events (messages, and friend and group changes of any kind).

import { TidingsClient, type Conversation, type Entry, type Message, type State } from "../../sdk/js/src/index.js";
import { ChatView } from "./chat.js";
import { h } from "./dom.js";
import { conversationsPanel, friendsPanel, groupsPanel, type Open } from "./sidebar.js";

type Tab = "chats" | "friends" | "groups";

export class App {
  private readonly client: TidingsClient;
  private readonly side = h("div", { class: "panel" });
  private main: HTMLElement = h("div", { class: "chat" }, h("div", { class: "empty" }, "Pick a conversation"));
  private readonly state = h("span", { class: "state", "data-testid": "state" }, "connecting");
  private readonly tabs = new Map<Tab, HTMLButtonElement>();
  private tab: Tab = "chats";
  private chat: ChatView | null = null;
  private convs: Conversation[] = [];
  private refreshing: ReturnType<typeof setTimeout> | null = null;

  constructor(
    root: HTMLElement,
    private readonly me: string,
    token: string,
    since: number,
    signOut: () => void,
  ) {
    // Live entries from `since` (the inbox head at sign-in); history and lists come from
    // REST. The client resumes from the last entry it delivered when the connection drops.
    this.client = new TidingsClient({ url: location.origin, token, since });
    const tabBar = h("nav", { class: "tabs" });
    for (const tab of ["chats", "friends", "groups"] as Tab[]) {
      const button = h("button", { "data-tab": tab, onclick: () => this.show(tab) }, tab[0].toUpperCase() + tab.slice(1));
      this.tabs.set(tab, button);
      tabBar.append(button);
    }
    const header = h("div", { class: "me" }, h("div", {}, h("strong", { "data-testid": "me" }, me), " ", this.state), h("button", { onclick: () => { this.client.close(); signOut(); } }, "Sign out"));
    const sidebar = h("aside", { class: "side" }, header, tabBar, this.side);
    root.replaceChildren(h("div", { class: "shell" }, sidebar, this.main));
    this.client.on("state", (state: State) => {
      this.state.textContent = state.replace("_", " ");
      this.state.className = `state ${state}`;
    });
    this.client.on("entry", (entry) => this.onEntry(entry));
    this.client.on("closed", (code) => {
      if (code === 4401) signOut();
    });
  }

  async start(): Promise<void> {
    await this.show("chats");
    await this.client.connect();
  }

  private readonly open: Open = (conv, target, title) => {
    this.chat = new ChatView(this.client, this.me, conv, target, title);
    this.main.replaceWith(this.chat.element);
    this.main = this.chat.element;
    void this.chat.open().then(() => this.refreshSoon());
    void this.show("chats");
  };

  private async show(tab: Tab): Promise<void> {
    this.tab = tab;
    for (const [name, button] of this.tabs) button.classList.toggle("on", name === tab);
    const refresh = () => void this.show(tab);
    let panel: HTMLElement;
    if (tab === "chats") {
      this.convs = await this.client.rest.conversations();
      panel = conversationsPanel(this.convs, this.chat?.conv ?? null, this.open, this.me);
    } else if (tab === "friends") {
      panel = await friendsPanel(this.client.rest, this.open, this.me, refresh);
    } else {
      panel = await groupsPanel(this.client.rest, this.open, refresh);
    }
    if (this.tab === tab) this.side.replaceChildren(...panel.childNodes);
  }

  private onEntry(entry: Entry): void {
    if (entry.kind === "message") {
      const message = entry as unknown as Message;
      if (this.chat?.conv === message.conv) this.chat.receive(message);
    }
    // Any entry may change a list (a message, a read marker, a friend or group change).
    this.refreshSoon();
  }

  private refreshSoon(): void {
    if (this.refreshing) return;
    this.refreshing = setTimeout(() => {
      this.refreshing = null;
      void this.show(this.tab);
    }, 100);
  }
}
