// The web client's entry: sign in as a development user (POST /v1/dev/token, served by
// `tidings up` only), then the app. The token is kept for this tab only (sessionStorage).

import { Rest, devSignIn } from "../../sdk/js/src/index.js";
import { App } from "./app.js";
import { h, inputForm } from "./dom.js";

const root = document.getElementById("root") as HTMLElement;
const KEY = "tidings.session";

function signOut(): void {
  sessionStorage.removeItem(KEY);
  showSignIn();
}

function showSignIn(): void {
  const form = inputForm(
    [
      { name: "user", placeholder: "user id, e.g. alice" },
      { name: "name", placeholder: "display name (optional)", required: false },
    ],
    "Sign in",
    async ({ user, name }) => {
      const signed = await devSignIn(location.origin, user, name || undefined);
      sessionStorage.setItem(KEY, JSON.stringify({ user: signed.user_id, token: signed.token }));
      await start(signed.user_id, signed.token);
    },
  );
  root.replaceChildren(
    h(
      "div",
      { class: "signin" },
      h("h2", {}, "Tidings"),
      h("p", {}, "Development sign-in: any user id of the development app, created on first use."),
      form,
    ),
  );
}

async function start(user: string, token: string): Promise<void> {
  const { last_seq } = await new Rest(location.origin, token).inbox(0, 1);
  await new App(root, user, token, last_seq, signOut).start();
}

const saved = sessionStorage.getItem(KEY);
if (saved) {
  const { user, token } = JSON.parse(saved) as { user: string; token: string };
  start(user, token).catch(signOut);
} else {
  showSignIn();
}
