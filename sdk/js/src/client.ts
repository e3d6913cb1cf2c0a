// The WebSocket session of docs/protocol.md: hello{since} -> entries -> synced -> live, with
// reconnects that resume from the last entry delivered; sends retried on one client_msg_id, and
// recall, edit, delete and clear for me answered the same way.

import { messageChange, type MessageChange } from "./changes.js";
import { Emitter } from "./emitter.js";
import { RETRYABLE, TidingsError } from "./errors.js";
import { newClientMsgId } from "./ids.js";
import { Rest } from "./rest.js";
import type {
  Body,
  Cleared,
  Edited,
  Entry,
  Hidden,
  Message,
  PinSet,
  Platform,
  Presence,
  Reacted,
  Recalled,
  Sent,
  SettingsChange,
  SettingsSet,
  Target,
  Typing,
  Welcome,
} from "./types.js";

/** The part of the WebSocket API the client uses (the browser's, or the `ws` package's). */
export interface SocketLike {
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}
export type SocketFactory = new (url: string) => SocketLike;

export interface ClientOptions {
  /** The server's base URL, e.g. `http://127.0.0.1:8080`. */
  url: string;
  token: string;
  /** The inbox seq this device already holds (0: none). Entries after it are delivered. */
  since?: number;
  /** The device id (1-64 of `[A-Za-z0-9_-]`): what `ack` records positions for and a sign-out ends. */
  device?: string;
  /** What the app's `one_per_platform` login policy compares (default `other`). */
  platform?: Platform;
  /** A WebSocket constructor; defaults to `globalThis.WebSocket` (browsers, Node >= 22). */
  WebSocket?: SocketFactory;
  /** First reconnect delay; doubles (with jitter) up to `maxBackoffMs`. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** An unanswered send (or recall, edit, hide, clear) is written again after this long. */
  sendRetryMs?: number;
  /** A send (or recall, edit, hide, clear) that has no answer after this long fails with `timeout`. */
  sendTimeoutMs?: number;
  /** A ping goes out this often; a connection silent for twice as long is replaced. */
  pingMs?: number;
  /** Ack the last delivered entry automatically (after catch-up and after live entries). */
  autoAck?: boolean;
}

export type State = "connecting" | "catching_up" | "live" | "waiting" | "closed";

export interface ClientEvents {
  /** Every inbox entry, each exactly once and in seq order, of every kind. */
  entry: (entry: Entry) => void;
  /** `message` entries (also delivered as `entry`). */
  message: (message: Message & { seq: number }) => void;
  /**
   * A recall, edit, delete for me or clear for me of messages already delivered (from
   * `recalled`, `edited`, `hidden`, `cleared` and `removed` entries, also delivered as
   * `entry`); `applyChange` applies it to a held message.
   */
  change: (change: MessageChange, entry: Entry) => void;
  /** Catch-up is complete up to `seq`; live entries follow. */
  synced: (seq: number) => void;
  welcome: (welcome: Welcome) => void;
  state: (state: State) => void;
  /** An `error` frame not tied to a send, or a connection failure. */
  error: (error: TidingsError) => void;
  /** A watched user's presence: once per user after `watchPresence`, then on each change. */
  presence: (presence: Presence) => void;
  /** Someone else is typing in one of the user's conversations (never stored). */
  typing: (typing: Typing) => void;
  /** A newer login replaced this session under the app's login policy; `closed` (4409) follows. */
  kicked: (reason: string) => void;
  /**
   * The session ended for good: `close()`, the server ended access (4401: tokens revoked, user
   * deactivated, device signed out) or a newer login replaced it (4409).
   */
  closed: (code: number, reason: string) => void;
}

/** A request frame (`send`, `recall`, `edit`, `hide`, `clear`) awaiting its answer or `error{id}`. */
interface Pending {
  id: string;
  frame: Record<string, unknown>;
  /** What the request is, for errors: `send 1f3a...`, `edit d~a~b/0190...`. */
  what: string;
  resolve: (answer: Record<string, unknown>) => void;
  reject: (error: TidingsError) => void;
  /** How often the frame was written. */
  attempts: number;
  /** When the frame was last written, or 0 if it still waits for a connection. */
  writtenAt: number;
  deadline: number;
  retryAfter: number;
}

const OPEN = 1;

/** A user's live session with Tidings. */
export class TidingsClient extends Emitter<ClientEvents> {
  readonly rest: Rest;
  private readonly options: Required<Omit<ClientOptions, "since" | "WebSocket">>;
  private readonly Socket: SocketFactory;
  private socket: SocketLike | null = null;
  private seq: number;
  /** The highest seq acked on the current connection, and the highest asked for. */
  private acked = 0;
  private ackWanted = 0;
  private current: State = "closed";
  private stopped = true;
  private welcomed = false;
  private attempt = 0;
  private nextId = 1;
  private pending = new Map<string, Pending>();
  private timers = new Set<ReturnType<typeof setTimeout>>();
  private ticker: ReturnType<typeof setInterval> | null = null;
  private lastHeard = 0;
  private lastPing = 0;
  private ackTimer: ReturnType<typeof setTimeout> | null = null;
  private firstSync: { resolve: () => void; reject: (e: TidingsError) => void } | null = null;
  /** The users whose presence is watched: asked again on every connection. */
  private watched: string[] = [];

  constructor(options: ClientOptions) {
    super();
    const Socket = options.WebSocket ?? (globalThis as { WebSocket?: SocketFactory }).WebSocket;
    if (!Socket) {
      throw new TidingsError("invalid_request", "no WebSocket implementation: pass options.WebSocket (on Node, import from tidings-sdk/node)");
    }
    this.Socket = Socket;
    this.seq = options.since ?? 0;
    this.options = {
      url: options.url,
      token: options.token,
      device: options.device ?? "default",
      platform: options.platform ?? "other",
      backoffMs: options.backoffMs ?? 250,
      maxBackoffMs: options.maxBackoffMs ?? 15_000,
      sendRetryMs: options.sendRetryMs ?? 4_000,
      sendTimeoutMs: options.sendTimeoutMs ?? 60_000,
      pingMs: options.pingMs ?? 20_000,
      autoAck: options.autoAck ?? true,
    };
    this.rest = new Rest(options.url, options.token);
  }

  /** The seq of the last entry delivered: what a reconnect asks to resume after. */
  get lastSeq(): number {
    return this.seq;
  }

  get state(): State {
    return this.current;
  }

  /** Connects; resolves once the first catch-up is complete (`synced`). Reconnects by itself. */
  connect(): Promise<void> {
    if (!this.stopped) throw new TidingsError("invalid_request", "already connected");
    this.stopped = false;
    const synced = new Promise<void>((resolve, reject) => {
      this.firstSync = { resolve, reject };
    });
    this.ticker = setInterval(() => this.tick(), 250);
    this.open();
    return synced;
  }

  /** Ends the session: no reconnect; unanswered sends fail with `closed`. */
  close(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.shutdown(1000, "closed by the client");
  }

  /** Replaces the token; the next connection (and REST call) uses it. */
  setToken(token: string): void {
    this.options.token = token;
    this.rest.setToken(token);
  }

  /**
   * Sends a message; resolves with `sent` once it is durably recorded. The frame is written
   * again, with the same `client_msg_id`, after a reconnect or when unanswered for
   * `sendRetryMs`, so the message is recorded once however often it is written.
   */
  async send(to: Target, body: Body, extra: { clientMsgId?: string; mentions?: string[]; mention_all?: boolean } = {}): Promise<Sent> {
    const client_msg_id = extra.clientMsgId ?? newClientMsgId();
    const frame: Record<string, unknown> = { t: "send", to, client_msg_id, body };
    if (extra.mentions) frame.mentions = extra.mentions;
    if (extra.mention_all) frame.mention_all = true;
    const sent = await this.request<Omit<Sent, "client_msg_id">>(frame, `send ${client_msg_id}`);
    return { ...sent, client_msg_id };
  }

  /** Sends a text message. */
  sendText(to: Target, text: string): Promise<Sent> {
    return this.send(to, { type: "text", text });
  }

  /**
   * Recalls a message (the sender within the app's recall window; a group's owner and admins
   * for lower roles). Written again like a send until answered: recalling a recalled message
   * answers the first recall.
   */
  recall(conv: string, msgId: string): Promise<Recalled> {
    return this.request({ t: "recall", conv, msg_id: msgId }, `recall ${conv}/${msgId}`);
  }

  /**
   * Edits one's own text message. With `expectedEditSeq` (the `edit_seq` last seen, 0 for an
   * unedited message) a concurrent edit makes it fail with `conflict`; without, the last
   * writer wins. Written again like a send until answered: a rewrite without
   * `expectedEditSeq` may record the same body as one more version; with it, a rewrite after
   * a lost success is refused with `conflict` (the message says so; read the message back).
   */
  edit(conv: string, msgId: string, body: Body, expectedEditSeq?: number): Promise<Edited> {
    const frame: Record<string, unknown> = { t: "edit", conv, msg_id: msgId, body };
    if (expectedEditSeq !== undefined) frame.expected_edit_seq = expectedEditSeq;
    return this.request(frame, `edit ${conv}/${msgId}`);
  }

  /** Edits one's own text message to `text` (see `edit`). */
  editText(conv: string, msgId: string, text: string, expectedEditSeq?: number): Promise<Edited> {
    return this.edit(conv, msgId, { type: "text", text }, expectedEditSeq);
  }

  /** Delete for me: removes the message `convSeq` of `conv` from this user's view, on all their devices. */
  hide(conv: string, convSeq: number): Promise<Hidden> {
    return this.request({ t: "hide", conv, conv_seq: convSeq }, `hide ${conv}/${convSeq}`);
  }

  /** Clear for me: removes `conv`'s messages up to `upTo` (default: the newest) from this user's view. */
  clear(conv: string, upTo?: number): Promise<Cleared> {
    const frame: Record<string, unknown> = { t: "clear", conv };
    if (upTo !== undefined) frame.up_to = upTo;
    return this.request(frame, `clear ${conv}`);
  }

  /** Adds (or, with `added: false`, removes) the user's reaction `key` to a message. */
  react(conv: string, msgId: string, key: string, added = true): Promise<Reacted> {
    return this.request({ t: added ? "react" : "unreact", conv, msg_id: msgId, key }, `react ${conv}/${msgId}`);
  }

  /** Pins (or, with `pinned: false`, unpins) a message of the conversation. */
  pin(conv: string, msgId: string, pinned = true): Promise<PinSet> {
    return this.request({ t: pinned ? "pin" : "unpin", conv, msg_id: msgId }, `pin ${conv}/${msgId}`);
  }

  /** Changes the user's settings for a conversation on all their devices (absent fields keep their value). */
  settings(conv: string, change: SettingsChange): Promise<SettingsSet> {
    return this.request({ t: "settings", conv, ...change }, `settings ${conv}`);
  }

  /**
   * Tells the conversation's other members who are online that the user is typing (or has
   * paused). Never stored; the server relays one notice per conversation per 2 s, so call it
   * again every few seconds while typing goes on.
   */
  typing(conv: string, state: "typing" | "paused" = "typing"): void {
    if (this.isOpen() && this.welcomed) this.frame({ t: "typing", conv, state });
  }

  /**
   * Watches these users' presence (1-1,000; replaces the list watched before): one `presence`
   * event per user now, then one per change. Asked again after every reconnect.
   */
  watchPresence(users: string[]): void {
    this.watched = [...users];
    this.askPresence();
  }

  private askPresence(): void {
    if (this.watched.length > 0 && this.isOpen() && this.welcomed) {
      this.frame({ t: "presence_subscribe", users: this.watched });
    }
  }

  /**
   * Writes a request frame and resolves with its answer (the frame's fields without `t` and
   * `id`). The frame is written again, unchanged, after a reconnect or when unanswered for
   * `sendRetryMs`: every request sent this way is idempotent on the server (sends by
   * `client_msg_id`), or says what a repeat does (`edit`).
   */
  private request<T>(fields: Record<string, unknown>, what: string): Promise<T> {
    if (this.stopped) return Promise.reject(new TidingsError("closed", "the client is closed"));
    const id = `s${this.nextId++}`;
    return new Promise<T>((resolve, reject) => {
      const pending: Pending = {
        id,
        frame: { ...fields, id },
        what,
        resolve: (answer) => resolve(answer as T),
        reject,
        attempts: 0,
        writtenAt: 0,
        deadline: Date.now() + this.options.sendTimeoutMs,
        retryAfter: 0,
      };
      this.pending.set(id, pending);
      this.write(pending);
    });
  }

  /**
   * Records that this device holds every entry up to `seq` (never moves back). Made while
   * disconnected, it goes out once the next connection has caught up.
   */
  ack(seq: number = this.seq): void {
    this.ackWanted = Math.max(this.ackWanted, seq);
    if (this.ackWanted > this.acked && this.isOpen() && this.welcomed) {
      this.acked = this.ackWanted;
      this.frame({ t: "ack", seq: this.acked });
    }
  }

  /** Marks a conversation read up to `conv_seq` (a read receipt in direct conversations). */
  read(conv: string, conv_seq: number): void {
    if (this.isOpen() && this.welcomed) this.frame({ t: "read", conv, conv_seq });
    else void this.rest.markRead(conv, conv_seq).catch((e: TidingsError) => this.emit("error", e));
  }

  /** Drops the current connection as a network failure would (it reconnects). For tests and "retry now" buttons. */
  reconnectNow(): void {
    this.socket?.close(4000, "reconnect");
  }

  private isOpen(): boolean {
    return this.socket !== null && this.socket.readyState === OPEN;
  }

  private setState(state: State): void {
    if (state === this.current) return;
    this.current = state;
    this.emit("state", state);
  }

  private open(): void {
    this.setState("connecting");
    this.welcomed = false;
    const url = new URL("/v1/ws", this.options.url);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("token", this.options.token);
    const socket = new this.Socket(url.toString());
    this.socket = socket;
    this.lastHeard = Date.now();
    socket.onopen = () => {
      if (this.socket !== socket) return;
      this.lastHeard = Date.now();
      this.setState("catching_up");
      // Resume after the last entry delivered: catch-up starts exactly there.
      this.frame({ t: "hello", since: this.seq, device: this.options.device, platform: this.options.platform });
    };
    socket.onmessage = (event) => {
      if (this.socket !== socket) return;
      this.lastHeard = Date.now();
      const text = typeof event.data === "string" ? event.data : String(event.data);
      let frame: Record<string, unknown>;
      try {
        frame = JSON.parse(text);
      } catch {
        this.emit("error", new TidingsError("invalid_request", "a frame that is not JSON"));
        return;
      }
      this.onFrame(frame);
    };
    socket.onerror = () => {
      // A close follows; that is where reconnecting happens.
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      const welcomed = this.welcomed;
      this.socket = null;
      this.welcomed = false;
      for (const pending of this.pending.values()) pending.writtenAt = 0;
      if (this.stopped) return;
      if (event.code === 4401 || event.code === 4409) {
        // Access ended (tokens revoked, user deactivated, device signed out) or a newer login
        // replaced this one: reconnecting cannot help, or would replace the newer login.
        this.stopped = true;
        this.shutdown(event.code, event.reason);
        return;
      }
      this.scheduleReconnect();
      // A refused upgrade looks like any failed connection to a WebSocket: ask REST whether
      // the token is still good, and stop if it is not.
      if (!welcomed) void this.checkToken();
    };
  }

  private async checkToken(): Promise<void> {
    try {
      await this.rest.inbox(this.seq, 1);
    } catch (error) {
      if (error instanceof TidingsError && error.code === "unauthorized" && !this.stopped) {
        this.stopped = true;
        this.shutdown(4401, error.message);
      }
    }
  }

  private scheduleReconnect(): void {
    this.setState("waiting");
    const base = Math.min(this.options.maxBackoffMs, this.options.backoffMs * 2 ** this.attempt);
    this.attempt += 1;
    // Full jitter on the upper half, so many clients dropped at once do not return at once.
    const delay = base / 2 + Math.random() * (base / 2);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.stopped) this.open();
    }, delay);
    this.timers.add(timer);
  }

  private onFrame(frame: Record<string, unknown>): void {
    switch (frame.t) {
      case "welcome":
        this.welcomed = true;
        // An ack written on a connection that then dropped may not have arrived: send again.
        this.acked = 0;
        this.emit("welcome", frame as unknown as Welcome);
        // Sends waiting for a connection go out now, on their own client_msg_id.
        for (const pending of this.pending.values()) this.write(pending);
        this.askPresence();
        return;
      case "entry":
        this.onEntry(frame as unknown as Entry);
        return;
      case "synced":
        this.attempt = 0;
        this.setState("live");
        this.emit("synced", this.seq);
        this.ack(this.options.autoAck ? this.seq : 0);
        if (this.firstSync) {
          this.firstSync.resolve();
          this.firstSync = null;
        }
        return;
      case "sent":
      case "recalled":
      case "edited":
      case "hidden":
      case "cleared":
      case "reacted":
      case "pin_set":
      case "settings_set":
        this.settle(String(frame.id), frame);
        return;
      case "presence": {
        const { t: _t, ...presence } = frame;
        this.emit("presence", presence as unknown as Presence);
        return;
      }
      case "typing": {
        const { t: _t, ...typing } = frame;
        this.emit("typing", typing as unknown as Typing);
        return;
      }
      case "kicked":
        this.emit("kicked", String(frame.reason ?? ""));
        return;
      case "error":
        this.onError(frame);
        return;
      default:
        // pong, page, relation, group answers and frames added later: nothing to do here.
        return;
    }
  }

  private onEntry(entry: Entry): void {
    if (entry.seq <= this.seq) return; // already delivered (never expected; guards resumes)
    if (entry.seq !== this.seq + 1) {
      // A gap would lose entries: resume from the last one delivered on a new connection.
      this.emit("error", new TidingsError("internal", `entry ${entry.seq} after ${this.seq}; resuming`));
      this.reconnectNow();
      return;
    }
    this.seq = entry.seq;
    const { t: _t, ...rest } = entry as Entry & { t?: string };
    this.emit("entry", rest as Entry);
    if (rest.kind === "message") this.emit("message", rest as unknown as Message & { seq: number });
    const change = messageChange(rest as Entry);
    if (change) this.emit("change", change, rest as Entry);
    if (this.options.autoAck && this.current === "live") this.ackSoon();
  }

  private ackSoon(): void {
    if (this.ackTimer) return;
    this.ackTimer = setTimeout(() => {
      this.ackTimer = null;
      this.ack();
    }, 200);
  }

  private onError(frame: Record<string, unknown>): void {
    const error = new TidingsError(String(frame.code), String(frame.message ?? ""));
    const pending = typeof frame.id === "string" ? this.pending.get(frame.id) : undefined;
    if (!pending) {
      this.emit("error", error);
      if (error.code === "unavailable" && !this.welcomed) this.reconnectNow();
      return;
    }
    if (RETRYABLE.has(error.code)) {
      // Same frame, same client_msg_id, a moment later.
      pending.writtenAt = 0;
      pending.retryAfter = Date.now() + Math.min(this.options.sendRetryMs, 500);
      return;
    }
    this.pending.delete(pending.id);
    if (error.code === "conflict" && pending.frame.t === "edit" && pending.attempts > 1) {
      pending.reject(new TidingsError("conflict", `${error.message} (the edit was written ${pending.attempts} times: an earlier attempt may have been recorded)`));
      return;
    }
    pending.reject(error);
  }

  private settle(id: string, frame: Record<string, unknown>): void {
    const pending = this.pending.get(id);
    if (!pending) return; // an answer to an attempt already settled
    this.pending.delete(id);
    const { t: _t, id: _id, ...answer } = frame;
    pending.resolve(answer);
  }

  private write(pending: Pending): void {
    if (!this.isOpen() || !this.welcomed || Date.now() < pending.retryAfter) return;
    pending.writtenAt = Date.now();
    pending.attempts += 1;
    this.frame(pending.frame);
  }

  private frame(frame: Record<string, unknown>): void {
    try {
      this.socket?.send(JSON.stringify(frame));
    } catch {
      // The socket is closing; its close event reconnects and the frame is written again.
    }
  }

  /** Runs every 250 ms: send retries and deadlines, pings, and dead connections. */
  private tick(): void {
    const now = Date.now();
    for (const pending of [...this.pending.values()]) {
      if (now >= pending.deadline) {
        this.pending.delete(pending.id);
        pending.reject(new TidingsError("timeout", `no answer to ${pending.what}`));
      } else if (pending.writtenAt === 0 || now - pending.writtenAt >= this.options.sendRetryMs) {
        this.write(pending);
      }
    }
    if (this.isOpen()) {
      const silent = now - this.lastHeard;
      if (silent >= 2 * this.options.pingMs) this.reconnectNow();
      else if (silent >= this.options.pingMs / 2 && now - this.lastPing >= this.options.pingMs / 2 && this.welcomed) {
        this.lastPing = now;
        this.frame({ t: "ping" });
      }
    }
  }

  private shutdown(code: number, reason: string): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = null;
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = null;
    const socket = this.socket;
    this.socket = null;
    socket?.close(1000);
    const error = new TidingsError(code === 4401 || code === 4409 ? "unauthorized" : "closed", reason || "closed");
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
    if (this.firstSync) {
      this.firstSync.reject(error);
      this.firstSync = null;
    }
    this.setState("closed");
    this.emit("closed", code, reason);
  }
}
