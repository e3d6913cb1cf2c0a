// A group above `[projector] large_group` uses read diffusion: members' inboxes get
// `group_advanced` entries instead of its messages, and the open chat fetches them from history.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startServer } from "../../sdk/js/test/server.mjs";
import { Browsers, messages } from "./browsers.mjs";

let server;
const browsers = new Browsers();
before(async () => {
  server = await startServer({ config: "[projector]\nlarge_group = 1\n" });
});
after(async () => {
  await browsers.close();
  await server?.stop();
});

test("a read-diffusion group's messages reach the open chat through group_advanced", async () => {
  const alice = await browsers.signIn(server, "alice", "Alice");
  const bob = await browsers.signIn(server, "bob", "Bob");
  await alice.click("[data-tab=groups]");
  await alice.fill("input[name=id]", "big");
  await alice.fill("input[name=name]", "Big");
  await alice.fill("input[name=members]", "bob");
  await alice.click("text=Create");
  await bob.click("[data-tab=groups]");
  await bob.locator("[data-group=big]").click();
  const token = await server.api.user("bob");
  const get = async (path) => (await fetch(server.url + path, { headers: { authorization: `Bearer ${token}` } })).json();
  assert.equal((await get("/v1/groups/big")).group.diffusion, "read");

  await alice.locator("[data-group=big]").click();
  for (const text of ["first", "second"]) {
    await alice.fill("input[name=text]", text);
    await alice.press("input[name=text]", "Enter");
    await messages(bob).filter({ hasText: text }).waitFor();
  }
  assert.deepEqual(await messages(bob).allTextContents(), ["first", "second"]);
  // What reached bob's inbox was group_advanced, not the messages (and his read markers).
  const { entries } = await get("/v1/inbox?after=0");
  assert.deepEqual(
    entries.filter((e) => e.conv === "g~big" && e.kind !== "read").map((e) => [e.kind, e.conv_seq]),
    [["group_advanced", 1], ["group_advanced", 2]],
  );
});
