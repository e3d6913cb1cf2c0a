// The wire shapes of docs/protocol.md, as far as a client reads them. Entries are open: a
// kind this SDK does not know (recalled, edited, hidden, ...) still arrives as an Entry.

/** One inbox entry: `seq`, `ts`, `kind` and the kind's fields. */
export interface Entry {
  seq: number;
  ts: number;
  kind: string;
  [field: string]: unknown;
}

/** A `message` entry (and a history row, which has no `seq`). */
export interface Message {
  seq?: number;
  ts: number;
  kind?: "message";
  conv: string;
  conv_seq: number;
  msg_id: string;
  from: string;
  to: Target;
  body: Body;
  mentions?: string[];
  mention_all?: boolean;
  [field: string]: unknown;
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
