// What recall, edit, delete for me and clear for me do to the messages an app holds: the
// entries that announce them, read as one `MessageChange`, and applied to a held message.

import type { Body, ClearedEntry, EditedEntry, Entry, HiddenEntry, Message, RecalledEntry, RemovedEntry } from "./types.js";

/** A change to messages already delivered, from a `recalled`, `edited`, `hidden`, `cleared` or `removed` entry. */
export type MessageChange =
  | { kind: "recalled"; conv: string; conv_seq: number; msg_id: string; recalled: { by?: string; ts: number } }
  | { kind: "edited"; conv: string; conv_seq: number; msg_id: string; body: Body; edit_seq: number; edited_at: number }
  /** The user removed one message from their view (`hidden`, or a `removed` placeholder). */
  | { kind: "removed"; conv: string; conv_seq: number }
  /** The user removed every message of `conv` up to `up_to` from their view. */
  | { kind: "cleared"; conv: string; up_to: number };

/** The change an entry announces, or `null` for an entry of another kind. */
export function messageChange(entry: Entry): MessageChange | null {
  switch (entry.kind) {
    case "recalled": {
      const e = entry as RecalledEntry;
      const recalled = e.by === undefined ? { ts: e.ts } : { by: e.by, ts: e.ts };
      return { kind: "recalled", conv: e.conv, conv_seq: e.conv_seq, msg_id: e.msg_id, recalled };
    }
    case "edited": {
      const e = entry as EditedEntry;
      return { kind: "edited", conv: e.conv, conv_seq: e.conv_seq, msg_id: e.msg_id, body: e.body, edit_seq: e.edit_seq, edited_at: e.ts };
    }
    case "hidden":
    case "removed": {
      const e = entry as HiddenEntry | RemovedEntry;
      return { kind: "removed", conv: e.conv, conv_seq: e.conv_seq };
    }
    case "cleared": {
      const e = entry as ClearedEntry;
      return { kind: "cleared", conv: e.conv, up_to: e.up_to };
    }
    default:
      return null;
  }
}

/**
 * `message` as it is after `change`: the same object when the change is about another
 * message, a new one when recalled or edited, and `null` when the user removed it from their
 * view. An edit older than what the message shows (a lower `edit_seq`) changes nothing, and a
 * recalled message stays recalled.
 */
export function applyChange(message: Message, change: MessageChange): Message | null {
  if (change.conv !== message.conv) return message;
  switch (change.kind) {
    case "recalled": {
      if (change.msg_id !== message.msg_id) return message;
      const { body: _body, ...rest } = message;
      return { ...rest, recalled: message.recalled ?? change.recalled };
    }
    case "edited":
      if (change.msg_id !== message.msg_id || message.recalled || (message.edit_seq ?? 0) >= change.edit_seq) return message;
      return { ...message, body: change.body, edit_seq: change.edit_seq, edited_at: change.edited_at };
    case "removed":
      return change.conv_seq === message.conv_seq ? null : message;
    case "cleared":
      return message.conv_seq <= change.up_to ? null : message;
  }
}
