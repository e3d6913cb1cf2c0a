// The sidebar: conversations with unread counts, friends and requests, groups.

import type { Conversation, Rest } from "../../sdk/js/src/index.js";
import { h, inputForm } from "./dom.js";

export type Open = (conv: string, target: { user: string } | { group: string }, title: string) => void;

/** The direct conversation of two users: `d~<a>~<b>` with `a < b` (docs/protocol.md). */
export function directConv(a: string, b: string): string {
  return a < b ? `d~${a}~${b}` : `d~${b}~${a}`;
}

export function conversationsPanel(convs: Conversation[], current: string | null, open: Open, me: string): HTMLElement {
  const rows = convs.map((c) => {
    const title = c.peer ?? `# ${c.group}`;
    const target = c.peer ? { user: c.peer } : { group: c.group ?? "" };
    const last = c.last_message?.body as { text?: string; type?: string } | undefined;
    return h(
      "div",
      { class: c.conv === current ? "row on" : "row", "data-conv": c.conv, onclick: () => open(c.conv, target, title) },
      h("div", { class: "text" }, h("div", { class: "name" }, title), h("div", { class: "preview" }, last?.text ?? last?.type ?? "")),
      c.unread > 0 && c.conv !== current ? h("span", { class: "badge", "data-testid": "unread" }, String(c.unread)) : null,
    );
  });
  const start = inputForm([{ name: "user", placeholder: "Chat with user id" }], "Open", async ({ user }) => {
    open(directConv(me, user), { user }, user);
  });
  return h("div", { class: "panel" }, start, ...(rows.length ? rows : [h("div", { class: "empty" }, "No conversations yet")]));
}

export async function friendsPanel(rest: Rest, open: Open, me: string, refresh: () => void): Promise<HTMLElement> {
  const [friends, incoming, outgoing] = await Promise.all([rest.friends(), rest.friendRequests("in"), rest.friendRequests("out")]);
  const act = (promise: Promise<unknown>) => void promise.then(refresh, refresh);
  const request = inputForm([{ name: "to", placeholder: "Add friend by user id" }], "Request", async ({ to }) => {
    await rest.requestFriend(to);
    refresh();
  });
  return h(
    "div",
    { class: "panel" },
    request,
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
      h("div", { class: "row", "data-friend": f.user_id, onclick: () => open(directConv(me, f.user_id), { user: f.user_id }, f.user_id) }, h("div", { class: "text name" }, f.user_id)),
    ),
  );
}

export async function groupsPanel(rest: Rest, open: Open, refresh: () => void): Promise<HTMLElement> {
  const { groups } = await rest.groups(0);
  const create = inputForm(
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
  create.querySelector("form")?.setAttribute("style", "flex-wrap: wrap");
  const rows = groups
    .filter((g) => g.role && !g.group.dismissed)
    .map((g) =>
      h(
        "div",
        { class: "row", "data-group": g.group.group, onclick: () => open(g.group.conv, { group: g.group.group }, `# ${g.group.name}`) },
        h("div", { class: "text" }, h("div", { class: "name" }, g.group.name), h("div", { class: "preview" }, `${g.group.member_count} members · ${g.role}`)),
      ),
    );
  return h("div", { class: "panel" }, create, ...rows);
}
