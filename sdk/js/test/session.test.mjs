// The SDK's WebSocket session against a real `tidings up`: catch-up then live, reconnects
// through connections cut mid-stream, idempotent send retries, and acks.

import assert from "node:assert/strict";
import { after, afterEach, before, test } from "node:test";
import { createClient } from "../dist/node.js";
import { eventually, startProxy, startServer } from "./server.mjs";

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.stop();
});
// A failed test still closes its clients and proxies, so the run ends.
const open = [];
afterEach(async () => {
  for (const thing of open.splice(0)) await thing.close();
});

/** A connected client for `user` (through `url`), with every entry it delivered. */
async function session(user, url = server.url, options = {}) {
  const token = await server.api.user(user);
  const client = createClient({ url, token, backoffMs: 20, maxBackoffMs: 200, ...options });
  open.push(client);
  const entries = [];
  client.on("entry", (entry) => entries.push(entry));
  return { client, entries, token };
}

/** Asserts `entries` are exactly seq 1..n, in order, each once. */
function assertContiguous(entries) {
  entries.forEach((entry, i) => assert.equal(entry.seq, i + 1, `entry ${i} has seq ${entry.seq}`));
}

test("catch-up then live: every entry once, in order, synced in between", async () => {
  const sender = "cl-alice";
  const { client, entries } = await session("cl-bob");
  await server.api.user(sender);
  for (let i = 0; i < 30; i++) await server.api.send(sender, "cl-bob", `before ${i}`);
  // The first 30 are in the inbox before the client connects: catch-up delivers them.
  await eventually("the inbox holds 30", async () => (await client.rest.inbox(0)).last_seq >= 30);
  const synced = [];
  client.on("synced", (seq) => synced.push(seq));
  await client.connect();
  assert.deepEqual(synced, [30]);
  assert.equal(entries.length, 30);
  for (let i = 0; i < 10; i++) await server.api.send(sender, "cl-bob", `live ${i}`);
  await eventually("40 entries", () => entries.length === 40);
  assertContiguous(entries);
  assert.deepEqual(
    entries.map((e) => e.body.text),
    [...Array(30).keys()].map((i) => `before ${i}`).concat([...Array(10).keys()].map((i) => `live ${i}`)),
  );
  client.close();
});

test("connections cut mid-stream resume with since: no gap, no duplicate", async () => {
  const proxy = await startProxy(server.url);
  open.push(proxy);
  const { client, entries } = await session("rc-bob", proxy.url);
  await server.api.user("rc-alice");
  await client.connect();
  const total = 300;
  const sent = [];
  const sending = (async () => {
    for (let i = 0; i < total; i++) sent.push((await server.api.send("rc-alice", "rc-bob", `m${i}`)).msg_id);
  })();
  // Cut every connection three times while messages flow, each after more have arrived.
  const cutAt = [];
  for (const count of [20, 60, 100]) {
    await eventually(`${count} entries`, () => entries.length >= count);
    proxy.cut();
    cutAt.push(sent.length);
  }
  await sending;
  assert.ok(cutAt.every((n) => n < total), `cut while sending: after ${cutAt} of ${total} sends`);
  await eventually(`all ${total} entries`, () => entries.length >= total);
  assert.equal(entries.length, total);
  assertContiguous(entries);
  assert.deepEqual(entries.map((e) => e.msg_id), sent);
  assert.ok(proxy.upgrades >= 4, `reconnected ${proxy.upgrades - 1} times`);
  assert.equal(client.state, "live");
  client.close();
});

test("a connection cut during catch-up resumes after the last entry delivered", async () => {
  const proxy = await startProxy(server.url);
  open.push(proxy);
  const { client, entries } = await session("cu-bob", proxy.url);
  await server.api.user("cu-alice");
  const total = 400;
  let last;
  for (let i = 0; i < total; i++) last = await server.api.send("cu-alice", "cu-bob", `c${i}`);
  await eventually("the inbox holds all", async () => (await client.rest.inbox(0, 1)).last_seq === total);
  // Cut in the middle of the catch-up, twice, from inside the delivery of an entry.
  const synced = [];
  client.on("synced", (seq) => synced.push(seq));
  client.on("entry", (entry) => {
    if (entry.seq === 100 || entry.seq === 250) {
      assert.deepEqual(synced, [], "still catching up");
      proxy.cut();
    }
  });
  await client.connect();
  assert.deepEqual(synced, [total]);
  assert.equal(entries.length, total);
  assertContiguous(entries);
  assert.equal(entries.at(-1).msg_id, last.msg_id);
  // The first cut always lands mid-catch-up; the second may come after the rest of the page
  // already sat in the client's socket buffer, in which case catch-up ends from the buffer
  // and the reconnect follows `synced`. Either way nothing is missed or repeated.
  assert.ok(proxy.upgrades >= 2, `upgrades: ${proxy.upgrades}`);
});

test("a send whose answer is lost is retried on the same client_msg_id and recorded once", async () => {
  const proxy = await startProxy(server.url);
  open.push(proxy);
  const { client } = await session("id-bob", proxy.url);
  const alice = await session("id-alice");
  await client.connect();
  // The server hears the send but its answer never arrives; then the connection drops.
  proxy.mute = true;
  const answer = client.sendText({ user: "id-alice" }, "once only");
  const conv = "d~id-alice~id-bob";
  const stored = await eventually("the send is recorded", async () => {
    const page = await alice.client.rest.history(conv);
    return page.messages.find((m) => m.body.text === "once only");
  });
  proxy.mute = false;
  proxy.cut();
  const sent = await answer;
  assert.equal(sent.msg_id, stored.msg_id);
  assert.equal(sent.conv_seq, stored.conv_seq);
  // An explicit retry of the same client_msg_id is answered the same and records nothing.
  const again = await client.send({ user: "id-alice" }, { type: "text", text: "ignored" }, { clientMsgId: sent.client_msg_id });
  assert.deepEqual([again.msg_id, again.conv_seq], [sent.msg_id, sent.conv_seq]);
  const history = await alice.client.rest.history(conv, { min_pos: again.pos });
  assert.equal(history.messages.length, 1);
  assert.equal(history.messages[0].body.text, "once only");
  client.close();
});

test("a send made while disconnected goes out after the reconnect", async () => {
  const proxy = await startProxy(server.url);
  open.push(proxy);
  const { client, entries } = await session("off-bob", proxy.url);
  await server.api.user("off-alice");
  await client.connect();
  proxy.cut();
  const sent = await client.sendText({ user: "off-alice" }, "queued");
  await eventually("bob's own message arrives", () => entries.some((e) => e.msg_id === sent.msg_id));
  assertContiguous(entries);
  client.close();
});

test("refused sends reject with the protocol's code", async () => {
  const { client } = await session("rf-bob");
  await client.connect();
  await assert.rejects(client.sendText({ user: "rf-nobody" }, "hi"), { code: "not_found" });
  await assert.rejects(client.send({ user: "rf-bob" }, { type: "text", text: "" }), { code: "invalid_request" });
  client.close();
});

test("acks: after catch-up and after live entries, the last delivered seq", async () => {
  const proxy = await startProxy(server.url);
  open.push(proxy);
  const { client, entries } = await session("ak-bob", proxy.url);
  await server.api.user("ak-alice");
  await server.api.send("ak-alice", "ak-bob", "one");
  await eventually("one in the inbox", async () => (await client.rest.inbox(0)).last_seq === 1);
  await client.connect();
  await eventually("ack 1", () => proxy.clientFrames().some((f) => f.t === "ack" && f.seq === 1));
  await server.api.send("ak-alice", "ak-bob", "two");
  await eventually("entry 2", () => entries.length === 2);
  await eventually("ack 2", () => proxy.clientFrames().some((f) => f.t === "ack" && f.seq === 2));
  const hellos = proxy.clientFrames().filter((f) => f.t === "hello");
  assert.deepEqual(hellos, [{ t: "hello", since: 0, device: "default", platform: "other" }]);
  // A reconnect says hello with the last seq delivered.
  proxy.cut();
  const hello = await eventually("a hello on a new connection", () => proxy.clientFrames().find((f) => f.t === "hello"));
  assert.deepEqual(hello, { t: "hello", since: 2, device: "default", platform: "other" });
  client.close();
});

test("an ack made while disconnected goes out once the next connection has caught up", async () => {
  const proxy = await startProxy(server.url);
  open.push(proxy);
  const { client, entries } = await session("ad-bob", proxy.url, { autoAck: false });
  await server.api.user("ad-alice");
  await client.connect();
  await server.api.send("ad-alice", "ad-bob", "one");
  await eventually("entry 1", () => entries.length === 1);
  assert.ok(!proxy.clientFrames().some((f) => f.t === "ack"), "no ack without autoAck");
  proxy.cut();
  client.ack(1);
  await eventually("ack 1 on the new connection", () => proxy.clientFrames().some((f) => f.t === "ack" && f.seq === 1));
  const frames = proxy.clientFrames().map((f) => f.t);
  assert.deepEqual(frames.slice(0, 2), ["hello", "ack"]);
});

test("close() ends the session and fails what is unanswered", async () => {
  const { client } = await session("cz-bob");
  await client.connect();
  client.close();
  assert.equal(client.state, "closed");
  await assert.rejects(client.sendText({ user: "cz-bob" }, "late"), { code: "closed" });
});

test("a token that is refused ends connect() with unauthorized, without reconnecting", async () => {
  const client = createClient({ url: server.url, token: "not.a.token", backoffMs: 20 });
  open.push(client);
  const closed = new Promise((resolve) => client.on("closed", (code) => resolve(code)));
  await assert.rejects(client.connect(), { code: "unauthorized" });
  assert.equal(await closed, 4401);
  assert.equal(client.state, "closed");
});

test("revoked tokens close the session for good (4401)", async () => {
  const { client } = await session("rv-bob");
  await client.connect();
  const closed = new Promise((resolve) => client.on("closed", (code, reason) => resolve([code, reason])));
  await server.api.call("POST", "/v1/users/rv-bob/tokens/revoke");
  assert.deepEqual(await closed, [4401, "token revoked"]);
  assert.equal(client.state, "closed");
  await assert.rejects(client.sendText({ user: "rv-bob" }, "late"), { code: "closed" });
});
