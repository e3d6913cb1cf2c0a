"""Schemathesis hooks for Tidings (loaded by scripts/schemathesis through SCHEMATHESIS_HOOKS).

Client routes get `Authorization: Bearer $TIDINGS_TOKEN`. Server-API routes (tag `server`) get
the placeholder `X-Signature: sign-me`; just before a request leaves, once its body bytes and
path are final, `Sign` replaces the placeholder with the signature docs/protocol.md specifies
and adds X-App-Key, X-Timestamp and X-Nonce. A request whose X-Signature was removed or replaced
(schemathesis' `ignored_auth` probes) leaves unsigned, as it should. Deactivation and token
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
APP_KEY = os.environ["TIDINGS_APP_KEY"]
APP_SECRET = os.environ["TIDINGS_APP_SECRET"]
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
        if request.headers.get("X-Signature") != PLACEHOLDER:
            return request
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        timestamp = int(time.time())
        nonce = uuid.uuid4().hex
        request.headers["X-App-Key"] = APP_KEY
        request.headers["X-Timestamp"] = str(timestamp)
        request.headers["X-Nonce"] = nonce
        request.headers["X-Signature"] = signature(
            APP_SECRET, request.method, request.path_url, timestamp, nonce, body
        )
        return request


@schemathesis.auth()
class Credentials:
    """The bearer token for client routes, the signature placeholder for the server API."""

    def get(self, case, context):
        return TOKEN

    def set(self, case, data, context):
        headers = case.headers if case.headers is not None else {}
        if "server" in (case.operation.tags or []):
            headers["X-Signature"] = PLACEHOLDER
        elif case.operation.definition.raw.get("security") != []:
            headers["Authorization"] = f"Bearer {data}"
        case.headers = headers


@schemathesis.hook
def before_call(context, case, kwargs):
    params = case.path_parameters
    if case.operation.path in ENDS_ACCESS and params and params.get("user_id") in SEEDED:
        params["user_id"] = "mallory"
    body = case.body
    if case.operation.path == "/v1/messages" and isinstance(body, dict):
        client_msg_id = body.get("client_msg_id")
        if isinstance(client_msg_id, str) and VALID_ID.match(client_msg_id):
            body["client_msg_id"] = uuid.uuid4().hex
    kwargs["auth"] = Sign()
