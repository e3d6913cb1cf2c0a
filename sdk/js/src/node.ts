// The SDK on Node: the same API with the `ws` package as the WebSocket (Node 20 has no
// global WebSocket without --experimental-websocket).

import WebSocket from "ws";
import { TidingsClient, type ClientOptions, type SocketFactory } from "./client.js";

export * from "./index.js";

/** A client that uses `ws` unless options name another WebSocket. */
export function createClient(options: ClientOptions): TidingsClient {
  return new TidingsClient({ WebSocket: WebSocket as unknown as SocketFactory, ...options });
}
