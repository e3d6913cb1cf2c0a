/** A refusal from Tidings (`{"code","message"}`), or a local failure (`timeout`, `closed`). */
export class TidingsError extends Error {
  readonly code: string;
  /** The HTTP status, for REST answers. */
  readonly status?: number;

  constructor(code: string, message: string, status?: number) {
    super(`${code}: ${message}`);
    this.name = "TidingsError";
    this.code = code;
    this.status = status;
  }
}

/** Codes a send may be retried after, with the same `client_msg_id`. */
export const RETRYABLE = new Set(["unavailable", "rate_limited", "internal"]);
