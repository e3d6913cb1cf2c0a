// Devices, presence, typing, conversation settings, reactions and pins through the SDK against
// a real `tidings up`: what each call answers and what reaches the user's other devices and
// the peer.

import assert from "node:assert/strict";
import { after, afterEach, before, test } from "node:test";
import { createClient } from "../dist/node.js";
import { eventually, startServer } from "./server.mjs";

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.stop();
});
const open = [];
afterEach(async () => {
  for (const thing of open.splice(0)) await thing.close();
});

/** A connected client for `user` on `device`, with what it delivered. */
async function session(user, { token, device, platform } = {}) {
  token ??= await server.api.user(user);
  const client = createClient({ url: server.url, token, device, platform, backoffMs: 20, maxBackoffMs: 200 });
  open.push(client);
  const seen = { entries: [], presence: [], typing: [], closed: [] };
  client.on("entry", (entry) => seen.entries.push(entry));
  client.on("presence", (presence) => seen.presence.push(presence));
  client.on("typing", (typing) => seen.typing.push(typing));
  client.on("closed", (code, reason) => seen.closed.push([code, reason]));
  await client.connect();
  return { client, token, ...seen };
}

test("presence of a watched user follows their sessions; typing reaches the peer only", async () => {
  const bob = await session("pt-bob");
  bob.client.watchPresence(["pt-alice"]);
  await eventually("bob sees alice offline", () => bob.presence.length === 1);
  assert.deepEqual([bob.presence[0].user, bob.presence[0].online], ["pt-alice", false]);

  const alice = await session("pt-alice", { device: "laptop", platform: "desktop" });
  await eventually("bob sees alice online", () => bob.presence.some((p) => p.online));
  assert.deepEqual((await bob.client.rest.presence(["pt-alice"])).map((p) => [p.user, p.online]), [["pt-alice", true]]);

  alice.client.typing("d~pt-alice~pt-bob");
  await eventually("bob sees alice typing", () => bob.typing.length === 1);
  assert.deepEqual(bob.typing[0], { conv: "d~pt-alice~pt-bob", user: "pt-alice", state: "typing", expires_in: 6 });
  assert.equal(alice.typing.length, 0);

  alice.client.close();
  await eventually("bob sees alice offline again", () => bob.presence.at(-1).online === false && bob.presence.length === 3);
  assert.ok(bob.presence.at(-1).last_seen > 0);
  // Typing is never stored: bob's inbox has no trace of it.
  assert.equal(bob.entries.length, 0);
});

test("settings follow the user to their other device; reactions and pins answer and reach the peer", async () => {
  const phone = await session("sr-alice", { device: "phone", platform: "ios" });
  const laptop = await session("sr-alice", { token: phone.token, device: "laptop", platform: "desktop" });
  const bob = await session("sr-bob");
  const conv = "d~sr-alice~sr-bob";
  const sent = await bob.client.sendText({ user: "sr-alice" }, "hi");

  const set = await phone.client.settings(conv, { pinned: true, draft: "half a thought" });
  assert.deepEqual([set.conv, set.pinned, set.draft, set.muted_until, set.hidden], [conv, true, "half a thought", null, false]);
  await eventually("the laptop's settings entry", () => laptop.entries.some((e) => e.kind === "settings"));
  const entry = laptop.entries.find((e) => e.kind === "settings");
  assert.deepEqual([entry.conv, entry.pinned, entry.draft], [conv, true, "half a thought"]);
  assert.ok(!bob.entries.some((e) => e.kind === "settings"));
  const changed = await laptop.client.rest.conversationsChanged(0);
  assert.deepEqual(changed.conversations.map((c) => [c.conv, c.settings.pinned]), [[conv, true]]);

  const reacted = await phone.client.react(conv, sent.msg_id, "👍");
  assert.deepEqual([reacted.key, reacted.added, reacted.conv_seq], ["👍", true, 1]);
  const pinned = await phone.client.pin(conv, sent.msg_id);
  assert.equal(pinned.pinned, true);
  await eventually("bob hears of the reaction and the pin", () => ["reaction", "pinned"].every((k) => bob.entries.some((e) => e.kind === k)));
  const pins = await bob.client.rest.pins(conv, pinned.pos);
  assert.deepEqual(pins.pins.map((p) => p.msg_id), [sent.msg_id]);
  assert.equal((await phone.client.react(conv, sent.msg_id, "👍", false)).added, false);
  await assert.rejects(phone.client.react(conv, "0190aaaa-0000-7000-8000-000000000000", "👍"), { code: "not_found" });
});

test("a device signed out from another device closes for good with 4401", async () => {
  const phone = await session("so-alice", { device: "phone", platform: "android" });
  const laptop = await session("so-alice", { token: phone.token, device: "laptop", platform: "desktop" });
  await laptop.client.rest.signOutDevice("phone");
  await eventually("the phone is closed", () => phone.closed.length === 1);
  assert.equal(phone.closed[0][0], 4401);
  assert.equal(phone.client.state, "closed");
  assert.equal(laptop.client.state, "live");
  const { devices } = await laptop.client.rest.devices();
  assert.ok(Array.isArray(devices));
});
