"""Schemathesis hooks for Tidings (loaded by scripts/schemathesis through SCHEMATHESIS_HOOKS).

Client routes get `Authorization: Bearer $TIDINGS_TOKEN`. Server-API routes (tag `server`) get
the placeholder `X-Signature: sign-me`, admin routes (tag `admin`) `sign-me-admin`; just before
a request leaves, once its body bytes and path are final, `Sign` replaces the placeholder with
the signature docs/protocol.md specifies, with the app's credential or the admin one
($TIDINGS_ADMIN_KEY, $TIDINGS_ADMIN_SECRET: what `tidings up` wrote into dev-admin.toml), and
adds X-App-Key, X-Timestamp and X-Nonce. A request whose X-Signature was removed or replaced
(schemathesis' `ignored_auth` probes) leaves unsigned, as it should. The document's example
msg_ids, and the seeded ones, are replaced by the message scripts/schemathesis seeded for the
operation's kind ($TIDINGS_RECALL_MSG_ID for recalls, $TIDINGS_EDIT_MSG_ID for every other
operation on a message, in the path or as a body's msg_id), so the examples act on real
messages and no recall removes the message the edits need. Deactivation and token
revocation are pointed at mallory whenever they would hit another seeded user, so the token's
user (alice) and the examples' users stay usable for the whole run. A send's valid
`client_msg_id` is made unique per call: a retry is answered with the original message and its
body is ignored (docs/protocol.md, Idempotency), so a case reusing an earlier case's id would be
answered as the retry it is, whatever its body.
"""

import hashlib
import hmac
import os
import re
import time
import uuid

import requests
import schemathesis

PLACEHOLDER = "sign-me"
ADMIN_PLACEHOLDER = "sign-me-admin"
APP_KEY = os.environ["TIDINGS_APP_KEY"]
APP_SECRET = os.environ["TIDINGS_APP_SECRET"]
CREDENTIALS = {
    PLACEHOLDER: (APP_KEY, APP_SECRET),
    ADMIN_PLACEHOLDER: (os.environ["TIDINGS_ADMIN_KEY"], os.environ["TIDINGS_ADMIN_SECRET"]),
}
# The seeded message each kind of operation gets in place of docs/openapi.json's example msg_ids
# or either seeded one (schemathesis tries every example, and msg_ids it read in answers, on any
# msg_id parameter): recalls never touch the message the edits need.
SEEDED_MESSAGES = {
    "recall": os.environ["TIDINGS_RECALL_MSG_ID"],
    "edit": os.environ["TIDINGS_EDIT_MSG_ID"],
}
KNOWN_MSG_IDS = {
    "01900000-0000-7000-8000-00000000a11c",
    "01900000-0000-7000-8000-0000000000ed",
    *SEEDED_MESSAGES.values(),
}
TOKEN = os.environ["TIDINGS_TOKEN"]
SEEDED = {"alice", "bob", "carol"}
VALID_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
ENDS_ACCESS = ("/v1/users/{user_id}/deactivate", "/v1/users/{user_id}/tokens/revoke")


def signature(secret, method, path_and_query, timestamp, nonce, body):
    """hex HMAC-SHA256(secret, METHOD\\nPATH_AND_QUERY\\nTIMESTAMP\\nNONCE\\nhex(sha256(body)))."""
    message = "\n".join([method, path_and_query, str(timestamp), nonce, hashlib.sha256(body).hexdigest()])
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


class Sign(requests.auth.AuthBase):
    """Signs a prepared request that carries the placeholder, over its final bytes."""

    def __call__(self, request):
        credential = CREDENTIALS.get(request.headers.get("X-Signature"))
        if credential is None:
            return request
        key, secret = credential
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        timestamp = int(time.time())
        nonce = uuid.uuid4().hex
        request.headers["X-App-Key"] = key
        request.headers["X-Timestamp"] = str(timestamp)
        request.headers["X-Nonce"] = nonce
        request.headers["X-Signature"] = signature(
            secret, request.method, request.path_url, timestamp, nonce, body
        )
        return request


@schemathesis.auth()
class Credentials:
    """The bearer token for client routes, a signature placeholder for the server and admin APIs."""

    def get(self, case, context):
        return TOKEN

    def set(self, case, data, context):
        headers = case.headers if case.headers is not None else {}
        tags = case.operation.tags or []
        if "server" in tags:
            headers["X-Signature"] = PLACEHOLDER
        elif "admin" in tags:
            headers["X-Signature"] = ADMIN_PLACEHOLDER
        elif case.operation.definition.raw.get("security") != []:
            headers["Authorization"] = f"Bearer {data}"
        case.headers = headers


@schemathesis.hook
def before_call(context, case, kwargs):
    params = case.path_parameters
    if case.operation.path in ENDS_ACCESS and params and params.get("user_id") in SEEDED:
        params["user_id"] = "mallory"
    if params and isinstance(params.get("msg_id"), str) and params["msg_id"] in KNOWN_MSG_IDS:
        recall = case.operation.path.endswith("/recall")
        params["msg_id"] = SEEDED_MESSAGES["recall" if recall else "edit"]
    body = case.body
    if isinstance(body, dict) and isinstance(body.get("msg_id"), str) and body["msg_id"] in KNOWN_MSG_IDS:
        body["msg_id"] = SEEDED_MESSAGES["edit"]
    if case.operation.path == "/v1/messages" and isinstance(body, dict):
        client_msg_id = body.get("client_msg_id")
        if isinstance(client_msg_id, str) and VALID_ID.match(client_msg_id):
            body["client_msg_id"] = uuid.uuid4().hex
    kwargs["auth"] = Sign()
