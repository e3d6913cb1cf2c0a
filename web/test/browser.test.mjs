// The web client at /app, driven in headless Chromium (Debian's /usr/bin/chromium through
// playwright-core; nothing downloads a browser) against a real `tidings up`: two users sign
// in on two pages (one browser each), become friends, chat live, page back through history,
// talk in a group, edit and recall (the other sees both live), and delete and clear for
// themselves (the other still sees it all); presence, typing and reactions in a direct chat.

import assert from "node:assert/strict";
import { join, resolve } from "node:path";
import { after, before, test } from "node:test";
import { repo, startServer } from "../../sdk/js/test/server.mjs";
import { Browsers, message, messages } from "./browsers.mjs";

let server;
const browsers = new Browsers();
before(async () => {
  server = await startServer();
});
after(async () => {
  await browsers.close();
  await server?.stop();
});
const signIn = (user, name) => browsers.signIn(server, user, name);

test("two users chat in two pages: friends, live messages, unread counts, history, a group, edit, recall, delete and clear for me", async () => {
  const alice = await signIn("alice", "Alice");
  const bob = await signIn("bob", "Bob");

  // Friends: alice asks, bob accepts, both list each other.
  await alice.click("[data-tab=friends]");
  await alice.fill("input[name=to]", "bob");
  await alice.click("text=Request");
  await bob.click("[data-tab=friends]");
  await bob.locator("[data-request=alice] >> text=Accept").click();
  await bob.locator("[data-friend=alice]").waitFor();
  await alice.locator("[data-friend=bob]").waitFor();

  // bob opens the chat from his friends list and sends; alice, elsewhere, sees an unread count.
  await bob.click("[data-friend=alice]");
  await bob.fill("input[name=text]", "hi alice");
  await bob.press("input[name=text]", "Enter");
  await messages(bob).filter({ hasText: "hi alice" }).waitFor();
  await alice.click("[data-tab=chats]");
  const row = alice.locator('[data-conv="d~alice~bob"]');
  await row.getByTestId("unread").filter({ hasText: "1" }).waitFor();

  // Many more messages, sent by bob's app server: the chat opens on the newest page.
  for (let i = 1; i <= 40; i++) await server.api.send("bob", "alice", `older ${i}`);
  await row.getByTestId("unread").filter({ hasText: "41" }).waitFor();
  await row.click();
  await messages(alice).filter({ hasText: "older 40" }).waitFor();
  assert.equal(await messages(alice).count(), 30);
  await alice.click("text=Load older messages");
  await messages(alice).filter({ hasText: "hi alice" }).waitFor();
  assert.equal(await messages(alice).count(), 41);
  await row.getByTestId("unread").waitFor({ state: "detached" });

  // A live reply both ways.
  await alice.fill("input[name=text]", "hi bob, got all 41");
  await alice.press("input[name=text]", "Enter");
  await messages(bob).filter({ hasText: "hi bob, got all 41" }).waitFor();
  await bob.fill("input[name=text]", "great");
  await bob.press("input[name=text]", "Enter");
  await messages(alice).filter({ hasText: "great" }).waitFor();

  // A group: alice creates it with bob, bob finds it in his groups and writes to it.
  await alice.click("[data-tab=groups]");
  await alice.fill("input[name=id]", "team");
  await alice.fill("input[name=name]", "Team");
  await alice.fill("input[name=members]", "bob");
  await alice.click("text=Create");
  await alice.locator("[data-group=team]").waitFor();
  await bob.click("[data-tab=groups]");
  await bob.locator("[data-group=team]").click();
  await bob.fill("input[name=text]", "hello team");
  await bob.press("input[name=text]", "Enter");
  await alice.locator("[data-group=team]").click();
  await messages(alice).filter({ hasText: "hello team" }).waitFor();

  // alice edits and recalls in their direct chat; bob, in it too, sees both live.
  await alice.click("[data-tab=chats]");
  await alice.locator('[data-conv="d~alice~bob"]').click();
  await bob.click("[data-tab=chats]");
  await bob.locator('[data-conv="d~alice~bob"]').click();
  await alice.fill("input[name=text]", "see you at 9");
  await alice.press("input[name=text]", "Enter");
  await messages(bob).filter({ hasText: "see you at 9" }).waitFor();
  await message(alice, "see you at 9").locator("[data-action=edit]").click();
  await alice.fill("input[name=edit]", "see you at 10");
  await alice.press("input[name=edit]", "Enter");
  await message(bob, "see you at 10").locator(".edited", { hasText: "(edited)" }).waitFor();
  await message(alice, "see you at 10").locator(".edited").waitFor();
  await messages(bob).filter({ hasText: "see you at 9" }).waitFor({ state: "detached" });
  // Only one's own messages have Edit and Recall; every message has Delete for me.
  assert.equal(await message(bob, "see you at 10").locator("[data-action=edit], [data-action=recall]").count(), 0);
  assert.equal(await message(bob, "see you at 10").locator("[data-action=hide]").count(), 1);
  await alice.fill("input[name=text]", "wrong chat, sorry");
  await alice.press("input[name=text]", "Enter");
  await messages(bob).filter({ hasText: "wrong chat, sorry" }).waitFor();
  await message(alice, "wrong chat, sorry").locator("[data-action=recall]").click();
  await messages(bob).filter({ hasText: "wrong chat, sorry" }).waitFor({ state: "detached" });
  await messages(bob).filter({ hasText: "message recalled" }).waitFor();
  await messages(alice).filter({ hasText: "message recalled" }).waitFor();

  // bob deletes one of alice's messages for himself: gone for him, after a reload too; alice
  // still has it when she opens the chat again from the server's history.
  await message(bob, "hi bob, got all 41").locator("[data-action=hide]").click();
  await messages(bob).filter({ hasText: "hi bob, got all 41" }).waitFor({ state: "detached" });
  await bob.reload();
  await bob.locator("[data-testid=state]", { hasText: "live" }).waitFor();
  await bob.locator('[data-conv="d~alice~bob"]').click();
  await messages(bob).filter({ hasText: "see you at 10" }).waitFor();
  assert.equal(await messages(bob).filter({ hasText: "hi bob, got all 41" }).count(), 0);
  await alice.locator('[data-conv="g~team"]').click();
  await messages(alice).filter({ hasText: "hello team" }).waitFor();
  await alice.locator('[data-conv="d~alice~bob"]').click();
  await messages(alice).filter({ hasText: "see you at 10" }).waitFor();
  assert.equal(await messages(alice).filter({ hasText: "hi bob, got all 41" }).count(), 1);
  assert.equal(await messages(alice).filter({ hasText: "message recalled" }).count(), 1);

  // bob clears the group for himself (a second click confirms); alice still has its messages.
  await bob.locator('[data-conv="g~team"]').click();
  await messages(bob).filter({ hasText: "hello team" }).waitFor();
  await bob.click("[data-action=clear]");
  await bob.click("[data-action=clear]");
  await messages(bob).filter({ hasText: "hello team" }).waitFor({ state: "detached" });
  await alice.locator('[data-conv="g~team"]').click();
  await messages(alice).filter({ hasText: "hello team" }).waitFor();

  // The picture in docs/ (TIDINGS_SCREENSHOT=docs/web-client.png refreshes it): alice's chat.
  await alice.click("[data-tab=chats]");
  await alice.locator('[data-conv="d~alice~bob"]').click();
  await messages(alice).filter({ hasText: "great" }).waitFor();
  await alice.locator('.msg.mine', { hasText: "see you at 10" }).hover();
  await bob.fill("input[name=text]", "standup at 10?");
  await bob.press("input[name=text]", "Enter");
  await alice.locator("[data-conv=\"g~team\"]").getByTestId("unread").filter({ hasText: "1" }).waitFor();
  await alice.screenshot({ path: resolve(repo, process.env.TIDINGS_SCREENSHOT ?? join(browsers.profiles[0], "web-client.png")) });
});

test("a direct chat shows the peer's presence and typing, and reactions from both sides", async () => {
  const carol = await signIn("carol", "Carol");
  const dave = await signIn("dave", "Dave");
  const chatWith = async (page, user) => {
    await page.click("[data-tab=chats]");
    await page.fill("input[name=user]", user);
    await page.click("text=Open");
  };
  await chatWith(dave, "carol");
  await dave.getByTestId("peer-status").filter({ hasText: "online" }).waitFor();
  await chatWith(carol, "dave");

  // carol types: dave sees it; her message ends it.
  await carol.fill("input[name=text]", "are you the");
  await dave.getByTestId("typing").filter({ hasText: "carol is typing" }).waitFor();
  await carol.fill("input[name=text]", "are you there?");
  await carol.press("input[name=text]", "Enter");
  await messages(dave).filter({ hasText: "are you there?" }).waitFor();
  assert.equal(await dave.getByTestId("typing").textContent(), "");

  // dave reacts from the message's actions; both see the count; carol adds hers.
  await message(dave, "are you there?").hover();
  await message(dave, "are you there?").locator("[data-action=react]").click();
  await message(carol, "are you there?").locator("[data-reaction='👍']", { hasText: "👍 1" }).waitFor();
  await message(dave, "are you there?").locator("[data-reaction='👍'].on", { hasText: "👍 1" }).waitFor();
  await message(carol, "are you there?").locator("[data-reaction='👍']").click();
  await message(dave, "are you there?").locator("[data-reaction='👍']", { hasText: "👍 2" }).waitFor();
  await message(carol, "are you there?").locator("[data-reaction='👍'].on", { hasText: "👍 2" }).waitFor();

  // carol leaves: dave sees her offline, with when she was last seen.
  await carol.context().close();
  await dave.getByTestId("peer-status").filter({ hasText: "last seen" }).waitFor();
});
