// The wire shapes of docs/protocol.md, as far as a client reads them. Entries are open: a
// kind this SDK does not know still arrives as an Entry.

/** One inbox entry: `seq`, `ts`, `kind` and the kind's fields. */
export interface Entry {
  seq: number;
  ts: number;
  kind: string;
  [field: string]: unknown;
}

/**
 * A `message` entry (and a history row, which has no `seq`). Read back (catch-up, history) a
 * message shows as it now is: no `body` but `recalled` once recalled, the latest body with
 * `edit_seq` and `edited_at` once edited. A live entry carries the body as sent.
 */
export interface Message {
  seq?: number;
  ts: number;
  kind?: "message";
  conv: string;
  conv_seq: number;
  msg_id: string;
  from: string;
  to: Target;
  /** Absent once the message is recalled. */
  body?: Body;
  mentions?: string[];
  mention_all?: boolean;
  /** Set once recalled: by whom (absent: the app server) and when. */
  recalled?: { by?: string; ts: number };
  /** How often the message was edited (absent: never); `edited_at` is the latest edit's time. */
  edit_seq?: number;
  edited_at?: number;
  [field: string]: unknown;
}

/** A message was recalled (to every participant): drop its body. `ts` is when. */
export interface RecalledEntry extends Entry {
  kind: "recalled";
  conv: string;
  conv_seq: number;
  msg_id: string;
  /** Absent when the app server recalled it. */
  by?: string;
}

/** A message was edited (to every participant): show this body. `ts` is when. */
export interface EditedEntry extends Entry {
  kind: "edited";
  conv: string;
  conv_seq: number;
  msg_id: string;
  body: Body;
  edit_seq: number;
}

/** The user deleted a message for themselves (to their own devices only). */
export interface HiddenEntry extends Entry {
  kind: "hidden";
  conv: string;
  conv_seq: number;
}

/** The user cleared a conversation for themselves up to `up_to` (to their own devices only). */
export interface ClearedEntry extends Entry {
  kind: "cleared";
  conv: string;
  up_to: number;
}

/**
 * Read back (catch-up, `sync`, inbox; never live) in place of an entry about a message the
 * user removed; keeps the `seq` so catch-up stays gapless, and carries nothing of the message.
 */
export interface RemovedEntry extends Entry {
  kind: "removed";
  conv: string;
  conv_seq: number;
}

/** The answer to a recall: the recall as recorded (the first one's, for a repeat). */
export interface Recalled {
  conv: string;
  conv_seq: number;
  msg_id: string;
  by?: string;
  ts: number;
  pos: number;
}

/** The answer to an edit: the message's new `edit_seq`. */
export interface Edited {
  conv: string;
  conv_seq: number;
  msg_id: string;
  edit_seq: number;
  edited_at: number;
  pos: number;
}

/** The answer to "delete for me". */
export interface Hidden {
  conv: string;
  conv_seq: number;
  pos: number;
}

/** The answer to "clear for me": the user's clear mark as it now is. */
export interface Cleared {
  conv: string;
  up_to: number;
  pos: number;
}

export type Target = { user: string } | { group: string };

export type Body =
  | { type: "text"; text: string }
  | { type: "custom"; data: unknown }
  | { type: "file" | "image"; file_id: string; name: string; size: number; mime: string; width?: number; height?: number }
  | { type: string; [field: string]: unknown };

/** The answer to a send: the message is durably recorded. */
export interface Sent {
  msg_id: string;
  conv: string;
  conv_seq: number;
  ts: number;
  pos: number;
  client_msg_id: string;
}

export interface Welcome {
  user_id: string;
  last_seq: number;
  server_time: number;
}

export interface Conversation {
  conv: string;
  peer?: string;
  group?: string;
  last_seq: number;
  read_seq: number;
  unread: number;
  last_ts: number;
  last_message?: Message | null;
  [field: string]: unknown;
}

export interface HistoryPage {
  messages: Message[];
  next_before?: number | null;
  next_after?: number | null;
}

export interface HistoryQuery {
  order?: "newest" | "oldest";
  before?: number;
  after?: number;
  limit?: number;
  since_ts?: number;
  until_ts?: number;
  min_pos?: number;
}

export interface Relation {
  user: string;
  friend: boolean;
  request?: "in" | "out";
  blocked: boolean;
}

export interface Profile {
  user_id: string;
  name: string;
  avatar_url?: string;
  extra?: unknown;
  version: number;
  updated_at: number;
  deactivated?: boolean;
}

export interface GroupView {
  group_id: string;
  conv: string;
  name: string;
  member_count: number;
  role?: string | null;
  dismissed: boolean;
}

export interface GroupRow {
  group: string;
  conv: string;
  name: string;
  avatar_url?: string;
  intro?: string;
  join_policy: string;
  owner: string;
  member_count: number;
  muted_all: boolean;
  announcement?: string;
  dismissed: boolean;
  diffusion: "write" | "read";
  created_at: number;
  cursor: number;
}

/** A group operation, tagged by `op` (docs/protocol.md, Groups). */
export type GroupOp = { op: string; [field: string]: unknown };

/** The platforms the `one_per_platform` login policy compares (`hello{platform}`). */
export type Platform = "ios" | "android" | "web" | "desktop" | "other";

/** A user's settings for a conversation, the same on all their devices. */
export interface ConvSettings {
  pinned: boolean;
  /** Do not disturb until this unix time (ms); `null`: not muted. */
  muted_until: number | null;
  draft: string | null;
  marked_unread: boolean;
  hidden: boolean;
  /** Set by the server: the newest `conv_seq` when the conversation was hidden (0: not hidden). */
  hidden_up_to: number;
}

/** What a settings change asks for: an absent field keeps its value, `null` clears. */
export type SettingsChange = Partial<Omit<ConvSettings, "hidden_up_to">>;

/** The answer to a settings change: all the settings as they now are. */
export interface SettingsSet extends ConvSettings {
  conv: string;
  pos: number;
}

/** The answer to a reaction added or removed. */
export interface Reacted {
  conv: string;
  msg_id: string;
  conv_seq: number;
  key: string;
  added: boolean;
  pos: number;
}

/** The answer to a pin or unpin: whether the message is now pinned. */
export interface PinSet {
  conv: string;
  msg_id: string;
  conv_seq: number;
  pinned: boolean;
  pos: number;
}

/** A watched user's presence, over all their devices and gateways. */
export interface Presence {
  user: string;
  online: boolean;
  /** When their last session ended (ms), if known. */
  last_seen?: number | null;
}

/** Someone is typing (or paused) in `conv`; treat `typing` as over after `expires_in` seconds. */
export interface Typing {
  conv: string;
  user: string;
  state: "typing" | "paused";
  expires_in: number;
}
