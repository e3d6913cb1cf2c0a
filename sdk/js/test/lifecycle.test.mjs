// Recall, edit, delete for me and clear for me through the SDK against a real `tidings up`:
// the WebSocket requests and their REST twins, the entries that reach the other participant
// and the user's other devices (live and by catch-up), and what applying them does to the
// messages a client holds.

import assert from "node:assert/strict";
import { after, afterEach, before, test } from "node:test";
import { Rest, applyChange, createClient } from "../dist/node.js";
import { eventually, startProxy, startServer } from "./server.mjs";

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

/** A client for `user` (registered now, or already), with the entries and changes it delivered. */
async function session(user, { url = server.url, token, since } = {}) {
  token ??= await server.api.user(user);
  const client = createClient({ url, token, since, backoffMs: 20, maxBackoffMs: 200 });
  open.push(client);
  const entries = [];
  const changes = [];
  client.on("entry", (entry) => entries.push(entry));
  client.on("change", (change, entry) => changes.push([change, entry]));
  await client.connect();
  return { client, entries, changes, token };
}

/** Applies the client's `change` events to the messages it delivered, as an app would. */
function apply(entries, changes, conv) {
  const bySeq = new Map(changes.map(([change, entry]) => [entry.seq, change]));
  let messages = [];
  for (const entry of entries) {
    if (entry.kind === "message" && entry.conv === conv) messages.push(entry);
    const change = bySeq.get(entry.seq);
    if (change) messages = messages.map((m) => applyChange(m, change)).filter((m) => m !== null);
  }
  return messages;
}

test("edit and recall over the socket: answers, conflicts, live entries to the peer, history", async () => {
  const alice = await session("le-alice");
  const bob = await session("le-bob");
  const conv = "d~le-alice~le-bob";
  const first = await alice.client.sendText({ user: "le-bob" }, "helo");
  const second = await alice.client.sendText({ user: "le-bob" }, "to be recalled");

  const edited = await alice.client.editText(conv, first.msg_id, "hello", 0);
  assert.deepEqual([edited.conv, edited.conv_seq, edited.msg_id, edited.edit_seq], [conv, 1, first.msg_id, 1]);
  assert.ok(edited.pos > first.pos && edited.edited_at >= first.ts);
  // A stale expected_edit_seq is refused and records nothing; bob may not edit alice's message.
  await assert.rejects(alice.client.editText(conv, first.msg_id, "hullo", 0), { code: "conflict" });
  await assert.rejects(bob.client.editText(conv, first.msg_id, "mine now"), { code: "forbidden" });
  await assert.rejects(alice.client.edit(conv, first.msg_id, { type: "custom", data: 1 }), { code: "invalid_request" });

  const recalled = await alice.client.recall(conv, second.msg_id);
  assert.deepEqual([recalled.conv_seq, recalled.msg_id, recalled.by], [2, second.msg_id, "le-alice"]);
  // Recalling again is a no-op answered with the first recall; editing it is not_found.
  const again = await alice.client.recall(conv, second.msg_id);
  assert.deepEqual([again.by, again.ts], [recalled.by, recalled.ts]);
  await assert.rejects(alice.client.editText(conv, second.msg_id, "back"), { code: "not_found" });
  await assert.rejects(bob.client.recall(conv, first.msg_id), { code: "forbidden" });

  // bob's client delivered both messages, then the edit and the recall, each as a change.
  await eventually("bob has the edit and the recall", () => bob.changes.length === 2);
  const [[edit, editEntry], [recall, recallEntry]] = bob.changes;
  assert.deepEqual(edit, { kind: "edited", conv, conv_seq: 1, msg_id: first.msg_id, body: { type: "text", text: "hello" }, edit_seq: 1, edited_at: editEntry.ts });
  assert.deepEqual(recall, { kind: "recalled", conv, conv_seq: 2, msg_id: second.msg_id, recalled: { by: "le-alice", ts: recallEntry.ts } });
  assert.deepEqual(bob.entries.map((e) => e.kind), ["message", "message", "edited", "recalled"]);
  const shown = apply(bob.entries, bob.changes, conv);
  assert.deepEqual(shown.map((m) => [m.conv_seq, m.body?.text, m.edit_seq, m.recalled?.by]), [[1, "hello", 1, undefined], [2, undefined, undefined, "le-alice"]]);
  // alice's own devices hear of her edit and recall too.
  await eventually("alice's changes", () => alice.changes.length === 2);

  // History reads back what bob's client now shows.
  const page = await bob.client.rest.history(conv, { min_pos: again.pos, order: "oldest" });
  const [one, two] = page.messages;
  assert.deepEqual([one.body, one.edit_seq, one.edited_at], [{ type: "text", text: "hello" }, 1, edited.edited_at]);
  assert.equal(two.body, undefined);
  assert.deepEqual(two.recalled, { by: "le-alice", ts: recalled.ts });
  assert.equal(recallEntry.ts, recalled.ts);
});

test("catch-up reads messages back as they now are, then the entries that changed them", async () => {
  const token = await server.api.user("lc-bob");
  await server.api.user("lc-alice");
  const conv = "d~lc-alice~lc-bob";
  const alice = new Rest(server.url, await server.api.user("lc-alice"));
  const kept = await server.api.send("lc-alice", "lc-bob", "first draft");
  const gone = await server.api.send("lc-alice", "lc-bob", "oops");
  await alice.edit(conv, kept.msg_id, { type: "text", text: "final" }, 0);
  const recalled = await alice.recall(conv, gone.msg_id);
  await alice.history(conv, { min_pos: recalled.pos, limit: 1 });
  const bob = await session("lc-bob", { token });
  assert.deepEqual(bob.entries.map((e) => e.kind), ["message", "message", "edited", "recalled"]);
  // The message entries already show the latest body, and the recall.
  assert.deepEqual([bob.entries[0].body.text, bob.entries[0].edit_seq], ["final", 1]);
  assert.equal(bob.entries[1].body, undefined);
  assert.equal(bob.entries[1].recalled.by, "lc-alice");
  // Applying the changes on top is harmless: an edit already shown, a recall already applied.
  const shown = apply(bob.entries, bob.changes, conv);
  assert.deepEqual(shown.map((m) => [m.body?.text, m.edit_seq, m.recalled?.ts]), [["final", 1, undefined], [undefined, undefined, recalled.ts]]);
});

test("delete and clear for me: the user's view on all their devices, not the peer's", async () => {
  const alice = await session("lh-alice");
  const phone = await session("lh-bob");
  const laptop = await session("lh-bob", { token: phone.token });
  const conv = "d~lh-alice~lh-bob";
  const sent = [];
  for (const text of ["one", "two", "three", "four"]) sent.push(await alice.client.sendText({ user: "lh-bob" }, text));

  const hidden = await phone.client.hide(conv, 2);
  assert.deepEqual([hidden.conv, hidden.conv_seq], [conv, 2]);
  assert.ok(hidden.pos > sent[3].pos);
  // Hiding again records nothing and answers the same; a message that does not exist is refused.
  assert.equal((await phone.client.hide(conv, 2)).conv_seq, 2);
  await assert.rejects(phone.client.hide(conv, 9), { code: "invalid_request" });
  await assert.rejects(phone.client.hide("d~lh-alice~lh-carol", 1), { code: "forbidden" });

  // The laptop hears of it live and drops the message it holds.
  await eventually("the laptop's hidden entry", () => laptop.changes.length === 1);
  assert.deepEqual(laptop.changes[0][0], { kind: "removed", conv, conv_seq: 2 });
  assert.equal(laptop.changes[0][1].kind, "hidden");
  assert.deepEqual(apply(laptop.entries, laptop.changes, conv).map((m) => m.body.text), ["one", "three", "four"]);
  // History leaves it out for bob; alice still has all four.
  const bobs = await phone.client.rest.history(conv, { min_pos: hidden.pos, order: "oldest" });
  assert.deepEqual(bobs.messages.map((m) => m.body.text), ["one", "three", "four"]);
  const alices = await alice.client.rest.history(conv, { min_pos: hidden.pos, order: "oldest" });
  assert.deepEqual(alices.messages.map((m) => m.body.text), ["one", "two", "three", "four"]);
  assert.equal(alice.changes.length, 0);

  // Clear for me up to 3 (one more arrives after it).
  const cleared = await laptop.client.clear(conv, 3);
  assert.deepEqual([cleared.conv, cleared.up_to], [conv, 3]);
  // The device that acted hears of it too, as every device of the user does.
  await eventually("the phone's cleared entry", () => phone.changes.length === 2);
  assert.deepEqual(phone.changes.map(([c]) => c.kind), ["removed", "cleared"]);
  assert.deepEqual(phone.changes[1][0], { kind: "cleared", conv, up_to: 3 });
  assert.deepEqual(apply(phone.entries, phone.changes, conv).map((m) => m.body.text), ["four"]);

  // A new device catching up from the start gets placeholders in place of what bob removed.
  const tablet = await session("lh-bob", { token: phone.token });
  const about = tablet.entries.filter((e) => e.conv === conv && e.kind !== "read");
  assert.deepEqual(about.map((e) => [e.kind, e.conv_seq ?? e.up_to]), [
    ["removed", 1],
    ["removed", 2],
    ["removed", 3],
    ["message", 4],
    ["hidden", 2],
    ["cleared", 3],
  ]);
  assert.deepEqual(Object.keys(about[0]).sort(), ["conv", "conv_seq", "kind", "seq", "ts"]);
  assert.deepEqual(apply(tablet.entries, tablet.changes, conv).map((m) => m.body.text), ["four"]);

  // Clear without up_to clears up to the newest message; the answer is the mark as it now is.
  const all = await phone.client.clear(conv);
  assert.equal(all.up_to, 4);
  assert.equal((await phone.client.clear(conv, 1)).up_to, 4);
  const none = await phone.client.rest.history(conv, { min_pos: all.pos });
  assert.deepEqual(none.messages, []);
});

test("the REST twins: recall, edit, hide, clear", async () => {
  const alice = new Rest(server.url, await server.api.user("lr-alice"));
  const bob = new Rest(server.url, await server.api.user("lr-bob"));
  const conv = "d~lr-alice~lr-bob";
  const a = await server.api.send("lr-alice", "lr-bob", "a");
  const b = await server.api.send("lr-alice", "lr-bob", "b");
  const edited = await alice.edit(conv, a.msg_id, { type: "text", text: "A" });
  assert.deepEqual([edited.conv_seq, edited.edit_seq], [1, 1]);
  assert.equal((await alice.edit(conv, a.msg_id, { type: "text", text: "A!" }, 1)).edit_seq, 2);
  await assert.rejects(alice.edit(conv, a.msg_id, { type: "text", text: "late" }, 1), (e) => e.code === "conflict" && e.status === 409);
  const recalled = await alice.recall(conv, b.msg_id);
  assert.equal(recalled.by, "lr-alice");
  const hidden = await bob.hide(conv, 1);
  assert.deepEqual([hidden.conv, hidden.conv_seq], [conv, 1]);
  const page = await bob.history(conv, { min_pos: hidden.pos });
  assert.deepEqual(page.messages.map((m) => [m.conv_seq, m.recalled?.by]), [[2, "lr-alice"]]);
  const cleared = await bob.clear(conv);
  assert.equal(cleared.up_to, 2);
  assert.deepEqual((await bob.history(conv, { min_pos: cleared.pos })).messages, []);
  assert.equal((await alice.history(conv, { min_pos: cleared.pos })).messages[1].body.text, "A!");
});

test("a recall and an edit whose answers are lost are written again and answered once", async () => {
  const proxy = await startProxy(server.url);
  open.push(proxy);
  const alice = await session("lw-alice", { url: proxy.url });
  const bob = new Rest(server.url, await server.api.user("lw-bob"));
  const conv = "d~lw-alice~lw-bob";
  const one = await alice.client.sendText({ user: "lw-bob" }, "one");
  const two = await alice.client.sendText({ user: "lw-bob" }, "two");

  // The server records the recall but its answer never arrives; the connection then drops.
  proxy.mute = true;
  const recalling = alice.client.recall(conv, two.msg_id);
  await eventually("the recall is recorded", async () => (await bob.history(conv)).messages.some((m) => m.recalled));
  proxy.mute = false;
  proxy.cut();
  const recalled = await recalling;
  assert.equal(recalled.by, "lw-alice");
  assert.ok(proxy.upgrades >= 2);

  // An edit with expected_edit_seq written twice: the retry is refused, and says why.
  proxy.mute = true;
  const editing = alice.client.editText(conv, one.msg_id, "uno", 0);
  await eventually("the edit is recorded", async () => (await bob.history(conv)).messages.some((m) => m.edit_seq === 1));
  proxy.mute = false;
  proxy.cut();
  await assert.rejects(editing, (e) => e.code === "conflict" && /written \d+ times/.test(e.message));
  const page = await bob.history(conv, { order: "oldest" });
  assert.deepEqual(page.messages.map((m) => [m.body?.text, m.edit_seq]), [["uno", 1], [undefined, undefined]]);
});
