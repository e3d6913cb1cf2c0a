// Test support: a real `tidings up` (target/debug/tidings, or TIDINGS_BIN) on a temporary
// data dir and a free port, with its own nats-server; the signed server API; a TCP proxy whose
// connections a test can cut; and `eventually` for waiting without fixed sleeps.

import { spawn } from "node:child_process";
import { createHash, createHmac, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

/** Starts `tidings up` (with `config`, TOML, if given); resolves once it printed its ready line. */
export async function startServer({ config } = {}) {
  const bin = process.env.TIDINGS_BIN ?? join(repo, "target/debug/tidings");
  const dir = mkdtempSync(join(tmpdir(), "tidings-sdk-"));
  const args = ["up", "--data-dir", join(dir, "data"), "--listen", "127.0.0.1:0"];
  if (config !== undefined) {
    writeFileSync(join(dir, "tidings.toml"), config);
    args.unshift("--config", join(dir, "tidings.toml"));
  }
  const env = { ...process.env, TIDINGS_LOG: process.env.TIDINGS_LOG ?? "warn" };
  delete env.NATS_URL; // `up` starts its own nats-server (found in .tools/nats like scripts/up)
  delete env.TIDINGS_DEV_APP_KEY;
  delete env.TIDINGS_DEV_APP_SECRET;
  const child = spawn(bin, args, {
    cwd: repo,
    env,
    stdio: ["ignore", "pipe", process.env.TIDINGS_TEST_LOG ? "inherit" : "ignore"],
  });
  const ready = await new Promise((resolveReady, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`tidings up not ready in 60 s: ${out}`)), 60_000);
    child.stdout.on("data", (chunk) => {
      out += chunk;
      const line = out.split("\n").find((l) => l.startsWith("tidings ready"));
      if (line) {
        clearTimeout(timer);
        resolveReady(line);
      }
    });
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(new Error(`starting ${bin}: ${error.message} (build it with cargo build -p tidings)`));
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`tidings up exited with ${code} before ready: ${out}`));
    });
  });
  const field = (name) => ready.match(new RegExp(`${name}=(\\S+)`))[1];
  const server = {
    url: field("listen"),
    key: field("app_key"),
    secret: field("app_secret"),
    async stop() {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
  server.api = serverApi(server);
  return server;
}

/** The signed server API (docs/protocol.md, Server API). */
function serverApi({ url, key, secret }) {
  const call = async (method, path, body) => {
    const text = body === undefined ? "" : JSON.stringify(body);
    const ts = Math.floor(Date.now() / 1000);
    const nonce = randomBytes(12).toString("hex");
    const hash = createHash("sha256").update(text).digest("hex");
    const signature = createHmac("sha256", secret)
      .update(`${method}\n${path}\n${ts}\n${nonce}\n${hash}`)
      .digest("hex");
    const response = await fetch(url + path, {
      method,
      headers: {
        "x-app-key": key,
        "x-timestamp": String(ts),
        "x-nonce": nonce,
        "x-signature": signature,
        "content-type": "application/json",
      },
      body: text || undefined,
    });
    const answer = await response.json();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(answer)}`);
    return answer;
  };
  return {
    call,
    /** Registers `user` and mints a token for them. */
    async user(user) {
      await call("POST", "/v1/users", { user_id: user, name: user });
      return (await call("POST", `/v1/users/${user}/token`)).token;
    },
    send(from, to, text, client_msg_id = randomBytes(8).toString("hex")) {
      return call("POST", "/v1/messages", { from, to: { user: to }, client_msg_id, body: { type: "text", text } });
    },
  };
}

/**
 * A TCP proxy to `target` (host:port URL). `cut()` destroys every connection through it, as a
 * network failure or a dying gateway would; `mute = true` swallows what the server sends.
 */
export async function startProxy(target) {
  const { hostname, port } = new URL(target);
  const pairs = new Set();
  let latest = Buffer.alloc(0);
  const proxy = {
    mute: false,
    /** How many connections through the proxy were WebSocket upgrades. */
    upgrades: 0,
    /** The JSON frames the client sent on the latest connection (WebSocket frames decoded). */
    clientFrames() {
      return decodeClientFrames(latest);
    },
    cut() {
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
      pairs.clear();
      latest = Buffer.alloc(0);
    },
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(port), hostname);
    const pair = [client, upstream];
    pairs.add(pair);
    latest = Buffer.alloc(0);
    let first = true;
    client.on("data", (d) => {
      if (first && /^upgrade: websocket/im.test(d.toString("latin1"))) proxy.upgrades += 1;
      first = false;
      if (pairs.has(pair)) latest = Buffer.concat([latest, d]);
      upstream.write(d);
    });
    upstream.on("data", (d) => {
      if (!proxy.mute) client.write(d);
    });
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("close", end);
    upstream.on("close", end);
    client.on("error", end);
    upstream.on("error", end);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  proxy.url = `http://127.0.0.1:${server.address().port}`;
  proxy.close = () => {
    proxy.cut();
    return new Promise((r) => server.close(r));
  };
  return proxy;
}

/** Decodes the text frames of a client's side of a WebSocket (after its HTTP upgrade). */
function decodeClientFrames(bytes) {
  const head = bytes.indexOf("\r\n\r\n");
  if (head < 0) return [];
  const frames = [];
  let at = head + 4;
  while (at + 2 <= bytes.length) {
    const opcode = bytes[at] & 0x0f;
    let len = bytes[at + 1] & 0x7f;
    let p = at + 2;
    if (len === 126) {
      len = bytes.readUInt16BE(p);
      p += 2;
    } else if (len === 127) {
      len = Number(bytes.readBigUInt64BE(p));
      p += 8;
    }
    const mask = bytes.subarray(p, p + 4); // clients always mask
    p += 4;
    if (p + len > bytes.length) break;
    const payload = Buffer.from(bytes.subarray(p, p + len).map((b, i) => b ^ mask[i % 4]));
    if (opcode === 1) frames.push(JSON.parse(payload.toString("utf8")));
    at = p + len;
  }
  return frames;
}

/** Polls `check` until it returns a truthy value (which it resolves with), for up to `ms`. */
export async function eventually(what, check, ms = 20_000) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}${last ? ` (${last})` : ""}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
