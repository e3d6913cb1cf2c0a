// The sidebar's tabs: conversations with unread counts, friends and requests, groups. Each tab
// is a form, made once (what is typed survives refreshes), above a list rebuilt on refresh.

import type { Conversation, Rest } from "../../sdk/js/src/index.js";
import { h, inputForm } from "./dom.js";

export type Open = (conv: string, target: { user: string } | { group: string }, title: string) => void;

export interface Tab {
  form: HTMLElement;
  /** The list's rows as they are now. */
  rows(): Promise<Node[]>;
}

/** The direct conversation of two users: `d~<a>~<b>` with `a < b` (docs/protocol.md). */
export function directConv(a: string, b: string): string {
  return a < b ? `d~${a}~${b}` : `d~${b}~${a}`;
}

export function chatsTab(rest: Rest, me: string, open: Open, current: () => string | null): Tab {
  const form = inputForm([{ name: "user", placeholder: "Chat with user id" }], "Open", async ({ user }) => {
    open(directConv(me, user), { user }, user);
  });
  const rows = async () => {
    const convs: Conversation[] = await rest.conversations();
    if (convs.length === 0) return [h("div", { class: "empty" }, "No conversations yet")];
    return convs.map((c) => {
      const title = c.peer ?? `# ${c.group}`;
      const target = c.peer ? { user: c.peer } : { group: c.group ?? "" };
      const last = c.last_message?.body as { text?: string; type?: string } | undefined;
      const preview = c.last_message?.recalled ? "message recalled" : last?.text ?? last?.type ?? "";
      const on = c.conv === current();
      return h(
        "div",
        { class: on ? "row on" : "row", "data-conv": c.conv, onclick: () => open(c.conv, target, title) },
        h("div", { class: "text" }, h("div", { class: "name" }, title), h("div", { class: "preview" }, preview)),
        c.unread > 0 && !on ? h("span", { class: "badge", "data-testid": "unread" }, String(c.unread)) : null,
      );
    });
  };
  return { form, rows };
}

export function friendsTab(rest: Rest, me: string, open: Open, refresh: () => void): Tab {
  const form = inputForm([{ name: "to", placeholder: "Add friend by user id" }], "Request", async ({ to }) => {
    await rest.requestFriend(to);
    refresh();
  });
  const act = (promise: Promise<unknown>) => void promise.then(refresh, refresh);
  const rows = async () => {
    const [friends, incoming, outgoing] = await Promise.all([rest.friends(), rest.friendRequests("in"), rest.friendRequests("out")]);
    return [
      h("div", { class: "heading" }, "Requests"),
      ...incoming.map((r) =>
        h(
          "div",
          { class: "row", "data-request": r.user_id },
          h("div", { class: "text name" }, r.user_id),
          h("button", { class: "primary", onclick: () => act(rest.acceptFriend(r.user_id)) }, "Accept"),
          h("button", { onclick: () => act(rest.rejectFriend(r.user_id)) }, "Reject"),
        ),
      ),
      ...outgoing.map((r) => h("div", { class: "row" }, h("div", { class: "text" }, `${r.user_id} (sent)`))),
      h("div", { class: "heading" }, "Friends"),
      ...friends.map((f) =>
        h(
          "div",
          { class: "row", "data-friend": f.user_id, onclick: () => open(directConv(me, f.user_id), { user: f.user_id }, f.user_id) },
          h("div", { class: "text name" }, f.user_id),
        ),
      ),
    ];
  };
  return { form, rows };
}

export function groupsTab(rest: Rest, open: Open, refresh: () => void): Tab {
  const form = inputForm(
    [
      { name: "id", placeholder: "group id" },
      { name: "name", placeholder: "name" },
      { name: "members", placeholder: "members (ids, comma separated)", required: false },
    ],
    "Create",
    async ({ id, name, members }) => {
      const users = members.split(",").map((m) => m.trim()).filter(Boolean);
      await rest.createGroup(id, { name, members: users });
      refresh();
    },
  );
  form.querySelector("form")?.classList.add("wrap");
  const rows = async () => {
    const { groups } = await rest.groups(0);
    return groups
      .filter((g) => g.role && !g.group.dismissed)
      .map((g) =>
        h(
          "div",
          { class: "row", "data-group": g.group.group, onclick: () => open(g.group.conv, { group: g.group.group }, `# ${g.group.name}`) },
          h("div", { class: "text" }, h("div", { class: "name" }, g.group.name), h("div", { class: "preview" }, `${g.group.member_count} members · ${g.role}`)),
        ),
      );
  };
  return { form, rows };
}
