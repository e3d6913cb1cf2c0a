// The signed-in app: one TidingsClient, the sidebar's tabs and the open chat, kept current by
// the client's entry events (messages, their recalls, edits and removals, and friend and
// group changes of any kind).

import { TidingsClient, type Entry, type Message, type MessageChange, type State } from "../../sdk/js/src/index.js";
import { ChatView } from "./chat.js";
import { h } from "./dom.js";
import { chatsTab, friendsTab, groupsTab, type Open, type Tab } from "./sidebar.js";

type TabName = "chats" | "friends" | "groups";

export class App {
  private readonly client: TidingsClient;
  private readonly side = h("div", { class: "panel" });
  private readonly list = h("div", { class: "list" });
  private main: HTMLElement = h("div", { class: "chat" }, h("div", { class: "empty" }, "Pick a conversation"));
  private readonly state = h("span", { class: "state", "data-testid": "state" }, "connecting");
  private readonly tabs = new Map<TabName, { button: HTMLButtonElement; tab: Tab }>();
  private tab: TabName = "chats";
  private chat: ChatView | null = null;
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
    const refresh = () => this.refreshSoon();
    const rest = this.client.rest;
    const tabs: [TabName, Tab][] = [
      ["chats", chatsTab(rest, me, this.open, () => this.chat?.conv ?? null)],
      ["friends", friendsTab(rest, me, this.open, refresh)],
      ["groups", groupsTab(rest, this.open, refresh)],
    ];
    for (const [name, tab] of tabs) {
      const button = h("button", { "data-tab": name, onclick: () => void this.show(name) }, name[0].toUpperCase() + name.slice(1));
      this.tabs.set(name, { button, tab });
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
    this.client.on("change", (change: MessageChange) => {
      if (this.chat && change.conv === this.chat.conv) this.chat.change(change);
    });
    this.client.on("presence", (presence) => this.chat?.presence(presence));
    this.client.on("typing", (typing) => this.chat?.typing(typing));
    this.client.on("closed", (code) => {
      if (code === 4401 || code === 4409) signOut();
    });
  }

  async start(): Promise<void> {
    await this.show("chats");
    await this.client.connect();
  }

  private readonly open: Open = (conv, target, title) => {
    this.chat?.close();
    this.chat = new ChatView(this.client, this.me, conv, target, title);
    this.main.replaceWith(this.chat.element);
    this.main = this.chat.element;
    const peer = this.chat.peer;
    if (peer) this.client.watchPresence([peer]);
    void this.chat.open().then(() => this.refreshSoon());
    void this.show("chats");
  };

  /** Shows a tab: its form, and its list as it is now. */
  private async show(name: TabName): Promise<void> {
    this.tab = name;
    for (const [other, { button }] of this.tabs) button.classList.toggle("on", other === name);
    const { tab } = this.tabs.get(name)!;
    let rows: Node[];
    try {
      rows = await tab.rows();
    } catch (error) {
      // Shown in place of the list; the next entry or click refreshes it again.
      rows = [h("div", { class: "error" }, `could not load: ${error instanceof Error ? error.message : String(error)}`)];
    }
    if (this.tab !== name) return;
    // The form stays in place (and keeps focus and what is typed); only the list is rebuilt.
    if (this.side.firstChild !== tab.form) this.side.replaceChildren(tab.form, this.list);
    this.list.replaceChildren(...rows);
  }

  private onEntry(entry: Entry): void {
    const chat = this.chat;
    if (chat && entry.kind === "message" && entry.conv === chat.conv) {
      chat.receive(entry as unknown as Message);
    } else if (chat && entry.kind === "reaction" && entry.conv === chat.conv) {
      chat.reaction(entry);
    } else if (chat && entry.kind === "group_advanced" && entry.conv === chat.conv) {
      void chat.catchUp().catch(() => undefined); // the next entry tries again
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
