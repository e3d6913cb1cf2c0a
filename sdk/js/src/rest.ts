// The client REST of docs/protocol.md, with the user's token.

import { TidingsError } from "./errors.js";
import type {
  Body,
  Cleared,
  Conversation,
  ConvSettings,
  Edited,
  Entry,
  GroupOp,
  GroupRow,
  GroupView,
  HistoryPage,
  Hidden,
  HistoryQuery,
  Message,
  PinSet,
  Presence,
  Profile,
  Reacted,
  Recalled,
  Relation,
  SettingsChange,
  SettingsSet,
} from "./types.js";

type Query = Record<string, string | number | undefined>;

/** What a sign-in answers: the user and a token for them. */
export interface SignedIn {
  user_id: string;
  token: string;
  expires_at: number;
}

/** `POST /v1/dev/token`: signs in as a user of `tidings up`'s development app (dev only). */
export async function devSignIn(url: string, userId: string, name?: string): Promise<SignedIn> {
  const body = name === undefined ? { user_id: userId } : { user_id: userId, name };
  return request<SignedIn>(fetch, url, undefined, "POST", "/v1/dev/token", undefined, body);
}

async function request<T>(
  fetcher: typeof fetch,
  base: string,
  token: string | undefined,
  method: string,
  path: string,
  query?: Query,
  body?: unknown,
): Promise<T> {
  const url = new URL(path, base);
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value !== undefined) url.searchParams.set(key, String(value));
  }
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetcher(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : {};
  } catch {
    throw new TidingsError("internal", `${method} ${path}: not JSON (${response.status})`, response.status);
  }
  if (!response.ok) {
    const error = parsed as { code?: string; message?: string };
    throw new TidingsError(error.code ?? "internal", error.message ?? text, response.status);
  }
  return parsed as T;
}

const seg = encodeURIComponent;

/** The client REST routes, authenticated with one user's token. */
export class Rest {
  constructor(
    readonly url: string,
    private token: string,
    private readonly fetcher: typeof fetch = (...args) => fetch(...args),
  ) {}

  /** Replaces the token (after the app server minted a new one). */
  setToken(token: string): void {
    this.token = token;
  }

  call<T>(method: string, path: string, query?: Query, body?: unknown): Promise<T> {
    return request<T>(this.fetcher, this.url, this.token, method, path, query, body);
  }

  // Inbox and conversations.
  inbox(after = 0, limit?: number): Promise<{ entries: Entry[]; last_seq: number }> {
    return this.call("GET", "/v1/inbox", { after, limit });
  }
  async conversations(): Promise<Conversation[]> {
    return (await this.call<{ conversations: Conversation[] }>("GET", "/v1/conversations")).conversations;
  }
  /** One page of a conversation's history (docs/protocol.md, History). */
  history(conv: string, query: HistoryQuery = {}): Promise<HistoryPage> {
    return this.call("GET", `/v1/conversations/${seg(conv)}/messages`, { ...query });
  }
  /** Every page of a conversation's history, following the cursor until it ends. */
  async *pages(conv: string, query: HistoryQuery = {}): AsyncGenerator<Message[]> {
    const oldest = query.order === "oldest";
    let cursor: number | undefined = oldest ? query.after : query.before;
    for (;;) {
      const page = await this.history(conv, oldest ? { ...query, after: cursor } : { ...query, before: cursor });
      if (page.messages.length > 0) yield page.messages;
      const next = oldest ? page.next_after : page.next_before;
      if (next === null || next === undefined) return;
      cursor = next;
    }
  }
  /** Marks `conv` read up to `conv_seq`. */
  markRead(conv: string, conv_seq: number): Promise<{ conv: string; read_seq: number; pos: number }> {
    return this.call("POST", `/v1/conversations/${seg(conv)}/read`, undefined, { conv_seq });
  }

  // Recall and edit (docs/protocol.md, Recall and edit).
  /** Recalls a message; recalling a recalled one answers the first recall. */
  recall(conv: string, msgId: string): Promise<Recalled> {
    return this.call("POST", `/v1/conversations/${seg(conv)}/messages/${seg(msgId)}/recall`);
  }
  /** Edits one's own text message; `expectedEditSeq` makes a concurrent edit a `conflict`. */
  edit(conv: string, msgId: string, body: Body, expectedEditSeq?: number): Promise<Edited> {
    const request = expectedEditSeq === undefined ? { body } : { body, expected_edit_seq: expectedEditSeq };
    return this.call("POST", `/v1/conversations/${seg(conv)}/messages/${seg(msgId)}/edit`, undefined, request);
  }

  // Delete for me, clear for me (docs/protocol.md): this user's view only.
  /** Removes the message `convSeq` of `conv` from this user's view. */
  hide(conv: string, convSeq: number): Promise<Hidden> {
    return this.call("POST", `/v1/conversations/${seg(conv)}/hide`, undefined, { conv_seq: convSeq });
  }
  /** Removes `conv`'s messages up to `upTo` (default: the newest) from this user's view. */
  clear(conv: string, upTo?: number): Promise<Cleared> {
    return this.call("POST", `/v1/conversations/${seg(conv)}/clear`, undefined, upTo === undefined ? {} : { up_to: upTo });
  }

  // Files.
  async upload(conv: string, name: string, bytes: Blob | Uint8Array, mime: string): Promise<{ file_id: string; conv: string; name: string; size: number; mime: string }> {
    const url = new URL(`/v1/conversations/${seg(conv)}/files`, this.url);
    url.searchParams.set("name", name);
    const response = await this.fetcher(url, {
      method: "POST",
      headers: { authorization: `Bearer ${this.token}`, "content-type": mime },
      body: bytes as BodyInit,
    });
    const answer = await response.json();
    if (!response.ok) throw new TidingsError(answer.code, answer.message, response.status);
    return answer;
  }
  /** The raw download of a file (`GET /v1/files/{id}`). */
  download(fileId: string): Promise<Response> {
    return this.fetcher(new URL(`/v1/files/${seg(fileId)}`, this.url), {
      headers: { authorization: `Bearer ${this.token}` },
    });
  }

  // Profiles.
  user(userId: string): Promise<Profile> {
    return this.call("GET", `/v1/users/${seg(userId)}`);
  }
  users(userIds: string[]): Promise<{ users: Profile[]; not_found: string[] }> {
    return this.call("POST", "/v1/users:batchGet", undefined, { user_ids: userIds });
  }
  usersChanged(since = 0, limit?: number): Promise<{ users: Profile[]; cursor: number }> {
    return this.call("GET", "/v1/users:changed", { since, limit });
  }

  // Friends and blocks.
  async friends(): Promise<{ user_id: string; since: number }[]> {
    return (await this.call<{ friends: { user_id: string; since: number }[] }>("GET", "/v1/friends")).friends;
  }
  async friendRequests(direction: "in" | "out" = "in"): Promise<{ user_id: string; direction: string; note?: string; ts: number }[]> {
    return (await this.call<{ requests: { user_id: string; direction: string; note?: string; ts: number }[] }>("GET", "/v1/friends/requests", { direction })).requests;
  }
  requestFriend(to: string, note?: string): Promise<{ relation: Relation; pos: number }> {
    return this.call("POST", "/v1/friends/requests", undefined, note === undefined ? { to } : { to, note });
  }
  acceptFriend(userId: string): Promise<{ relation: Relation; pos: number }> {
    return this.call("POST", `/v1/friends/requests/${seg(userId)}/accept`);
  }
  rejectFriend(userId: string): Promise<{ relation: Relation; pos: number }> {
    return this.call("POST", `/v1/friends/requests/${seg(userId)}/reject`);
  }
  cancelFriendRequest(userId: string): Promise<{ relation: Relation; pos: number }> {
    return this.call("DELETE", `/v1/friends/requests/${seg(userId)}`);
  }
  removeFriend(userId: string): Promise<{ relation: Relation; pos: number }> {
    return this.call("DELETE", `/v1/friends/${seg(userId)}`);
  }
  async blocks(): Promise<{ user_id: string; since: number }[]> {
    return (await this.call<{ blocks: { user_id: string; since: number }[] }>("GET", "/v1/blocks")).blocks;
  }
  block(userId: string): Promise<{ relation: Relation; pos: number }> {
    return this.call("POST", "/v1/blocks", undefined, { user_id: userId });
  }
  unblock(userId: string): Promise<{ relation: Relation; pos: number }> {
    return this.call("DELETE", `/v1/blocks/${seg(userId)}`);
  }
  relationsChanged(since = 0): Promise<{ relations: (Relation & { note?: string; ts: number; cursor: number })[]; cursor: number }> {
    return this.call("GET", "/v1/relations:changed", { since });
  }

  // Groups.
  groups(since = 0): Promise<{ groups: { group: GroupRow; role: string | null }[]; cursor: number }> {
    return this.call("GET", "/v1/groups", { since });
  }
  group(groupId: string): Promise<{ group: GroupRow; role: string | null }> {
    return this.call("GET", `/v1/groups/${seg(groupId)}`);
  }
  groupMembers(groupId: string, after?: string, limit?: number): Promise<{ members: { user: string; role: string; muted: boolean; joined_at: number }[]; next_after: string | null }> {
    return this.call("GET", `/v1/groups/${seg(groupId)}/members`, { after, limit });
  }
  createGroup(groupId: string, fields: { name: string; members?: string[]; join_policy?: string; intro?: string; avatar_url?: string }): Promise<{ group: GroupView; pos: number }> {
    return this.call("POST", "/v1/groups", undefined, { group_id: groupId, ...fields });
  }
  /** Any group operation but create: `{op:"add", users:[...]}`, `{op:"leave"}`, ... */
  groupOp(groupId: string, op: GroupOp): Promise<{ group: GroupView; pos: number }> {
    return this.call("POST", `/v1/groups/${seg(groupId)}/ops`, undefined, op);
  }

  // Reactions and pins.
  react(conv: string, msgId: string, key: string): Promise<Reacted> {
    return this.call("POST", `/v1/conversations/${seg(conv)}/messages/${seg(msgId)}/reactions`, undefined, { key });
  }
  unreact(conv: string, msgId: string, key: string): Promise<Reacted> {
    return this.call("DELETE", `/v1/conversations/${seg(conv)}/messages/${seg(msgId)}/reactions/${seg(key)}`);
  }
  pin(conv: string, msgId: string): Promise<PinSet> {
    return this.call("POST", `/v1/conversations/${seg(conv)}/pins/${seg(msgId)}`);
  }
  unpin(conv: string, msgId: string): Promise<PinSet> {
    return this.call("DELETE", `/v1/conversations/${seg(conv)}/pins/${seg(msgId)}`);
  }
  /** The conversation's pinned messages, in `conv_seq` order (eventual: pass a pin's `pos` as `minPos`). */
  pins(conv: string, minPos?: number): Promise<{ conv: string; pins: { conv_seq: number; msg_id: string; by?: string; ts: number; message?: Message }[] }> {
    return this.call("GET", `/v1/conversations/${seg(conv)}/pins`, { min_pos: minPos });
  }

  // Conversation settings (the same on all the user's devices).
  settings(conv: string, change: SettingsChange): Promise<SettingsSet> {
    return this.call("POST", `/v1/conversations/${seg(conv)}/settings`, undefined, change);
  }
  /** Conversations whose settings changed after `since` (a cursor from the last call). */
  conversationsChanged(since = 0, limit?: number): Promise<{ conversations: { conv: string; settings: ConvSettings; cursor: number }[]; cursor: number }> {
    return this.call("GET", "/v1/conversations:changed", { since, limit });
  }

  // Devices and presence.
  devices(): Promise<{ devices: ({ device: string } & Record<string, unknown>)[] }> {
    return this.call("GET", "/v1/devices");
  }
  /** Signs one of the user's devices out: its sessions close on every gateway. */
  signOutDevice(device: string): Promise<Record<string, unknown>> {
    return this.call("DELETE", `/v1/devices/${seg(device)}`);
  }
  /** These users' presence now (1-1,000 ids). */
  async presence(users: string[]): Promise<Presence[]> {
    return (await this.call<{ users: Presence[] }>("POST", "/v1/presence/query", undefined, { users })).users;
  }
}
