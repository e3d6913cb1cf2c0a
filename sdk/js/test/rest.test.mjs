// The SDK's REST side against a real `tidings up`: history paging both ways, conversations
// with unread counts and read markers, friends, groups, and the development sign-in.

import assert from "node:assert/strict";
import { after, afterEach, before, test } from "node:test";
import { Rest, TidingsError, createClient, devSignIn } from "../dist/node.js";
import { eventually, startServer } from "./server.mjs";

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.stop();
});
const open = [];
afterEach(() => {
  for (const client of open.splice(0)) client.close();
});

async function rest(user) {
  return new Rest(server.url, await server.api.user(user));
}

test("history pages newest first and oldest first, each message once", async () => {
  const bob = await rest("hp-bob");
  await server.api.user("hp-alice");
  let last;
  for (let i = 1; i <= 25; i++) last = await server.api.send("hp-alice", "hp-bob", `h${i}`);
  const conv = "d~hp-alice~hp-bob";
  // Wait for the read models to hold the last send, then page.
  await bob.history(conv, { min_pos: last.pos, limit: 1 });
  const newest = [];
  for await (const page of bob.pages(conv, { limit: 10 })) newest.push(page.map((m) => m.conv_seq));
  assert.deepEqual(newest.map((p) => p.length), [10, 10, 5]);
  assert.deepEqual(newest.flat(), [...Array(25).keys()].map((i) => 25 - i));
  const oldest = [];
  for await (const page of bob.pages(conv, { order: "oldest", limit: 10 })) oldest.push(...page);
  assert.deepEqual(oldest.map((m) => m.body.text), [...Array(25).keys()].map((i) => `h${i + 1}`));
  // One page by hand: the cursor of the first is where the second starts.
  const first = await bob.history(conv, { limit: 10 });
  assert.equal(first.next_before, 16);
  const second = await bob.history(conv, { limit: 10, before: first.next_before });
  assert.equal(second.messages[0].conv_seq, 15);
});

test("conversations carry unread counts; read markers clear them", async () => {
  const bob = await rest("cv-bob");
  await server.api.user("cv-alice");
  let last;
  for (let i = 0; i < 3; i++) last = await server.api.send("cv-alice", "cv-bob", `u${i}`);
  const conv = "d~cv-alice~cv-bob";
  const row = await eventually("3 unread", async () =>
    (await bob.conversations()).find((c) => c.conv === conv && c.unread === 3),
  );
  assert.equal(row.peer, "cv-alice");
  assert.equal(row.last_message.body.text, "u2");
  const marked = await bob.markRead(conv, last.conv_seq);
  assert.equal(marked.read_seq, 3);
  await eventually("none unread", async () => (await bob.conversations()).find((c) => c.conv === conv).unread === 0);
});

test("friends: request, accept, list, remove", async () => {
  const bob = await rest("fr-bob");
  const alice = await rest("fr-alice");
  const requested = await bob.requestFriend("fr-alice", "hi");
  assert.deepEqual(requested.relation, { user: "fr-alice", friend: false, request: "out", blocked: false });
  await eventually("alice sees the request", async () =>
    (await alice.friendRequests("in")).some((r) => r.user_id === "fr-bob" && r.note === "hi"),
  );
  const accepted = await alice.acceptFriend("fr-bob");
  assert.equal(accepted.relation.friend, true);
  await eventually("bob lists alice", async () => (await bob.friends()).some((f) => f.user_id === "fr-alice"));
  await bob.removeFriend("fr-alice");
  await eventually("bob lists no one", async () => (await bob.friends()).length === 0);
  await assert.rejects(bob.acceptFriend("fr-nobody"), (e) => e instanceof TidingsError && e.code === "not_found" && e.status === 404);
});

test("groups: create, send over the socket, members, history, sync", async () => {
  const owner = createClient({ url: server.url, token: await server.api.user("gr-owner") });
  open.push(owner);
  await server.api.user("gr-member");
  const member = await rest("gr-member");
  const created = await owner.rest.createGroup("gr-1", { name: "Team", members: ["gr-member"] });
  assert.deepEqual([created.group.group_id, created.group.member_count, created.group.role], ["gr-1", 2, "owner"]);
  await owner.connect();
  const sent = await owner.sendText({ group: "gr-1" }, "hello team");
  assert.equal(sent.conv, "g~gr-1");
  const page = await member.history("g~gr-1", { min_pos: sent.pos });
  assert.equal(page.messages[0].body.text, "hello team");
  const members = await member.groupMembers("gr-1");
  assert.deepEqual(members.members.map((m) => [m.user, m.role]), [["gr-member", "member"], ["gr-owner", "owner"]]);
  const synced = await member.groups(0);
  assert.deepEqual(synced.groups.map((g) => [g.group.group, g.role]), [["gr-1", "member"]]);
  // History is eventual: the leave's pos as min_pos makes the next read reflect it.
  const left = await member.groupOp("gr-1", { op: "leave" });
  await assert.rejects(member.history("g~gr-1", { min_pos: left.pos }), { code: "forbidden" });
});

test("profiles by id and in batches", async () => {
  const bob = await rest("pf-bob");
  const profile = await bob.user("pf-bob");
  assert.equal(profile.name, "pf-bob");
  const batch = await bob.users(["pf-bob", "pf-nobody"]);
  assert.deepEqual([batch.users.map((u) => u.user_id), batch.not_found], [["pf-bob"], ["pf-nobody"]]);
});

test("the development sign-in registers the user and its token works", async () => {
  const signed = await devSignIn(server.url, "dv-carol", "Carol");
  assert.equal(signed.user_id, "dv-carol");
  const carol = new Rest(server.url, signed.token);
  assert.equal((await carol.user("dv-carol")).name, "Carol");
  // Signing in again keeps the name.
  const again = await devSignIn(server.url, "dv-carol");
  assert.equal((await new Rest(server.url, again.token).user("dv-carol")).name, "Carol");
  await assert.rejects(devSignIn(server.url, "bad id!"), { code: "invalid_id" });
});

test("files: upload for a conversation, send it, download it", async () => {
  const bob = createClient({ url: server.url, token: await server.api.user("fl-bob") });
  open.push(bob);
  const alice = await rest("fl-alice");
  const conv = "d~fl-alice~fl-bob";
  const bytes = new TextEncoder().encode("hello file");
  const file = await bob.rest.upload(conv, "note.txt", bytes, "text/plain");
  assert.deepEqual([file.conv, file.name, file.size, file.mime], [conv, "note.txt", 10, "text/plain"]);
  await bob.connect();
  const sent = await bob.send({ user: "fl-alice" }, { type: "file", file_id: file.file_id, name: file.name, size: file.size, mime: file.mime });
  const page = await alice.history(conv, { min_pos: sent.pos });
  assert.equal(page.messages[0].body.file_id, file.file_id);
  const download = await alice.download(file.file_id);
  assert.equal(download.status, 200);
  assert.equal(await download.text(), "hello file");
  await assert.rejects(alice.upload("d~fl-bob~fl-carol", "x.txt", bytes, "text/plain"), { code: "forbidden" });
});
