export { TidingsClient } from "./client.js";
export type { ClientEvents, ClientOptions, SocketFactory, SocketLike, State } from "./client.js";
export { applyChange, messageChange } from "./changes.js";
export type { MessageChange } from "./changes.js";
export { Rest, devSignIn } from "./rest.js";
export type { SignedIn } from "./rest.js";
export { TidingsError } from "./errors.js";
export { newClientMsgId } from "./ids.js";
export type * from "./types.js";
