"""Schemathesis hooks for fuzzing the wallet API with its credentials.

Loaded by scripts/fuzz-wallet-api.sh through SCHEMATHESIS_HOOKS. The wallet
API has three kinds of route, each with its own credentials (README of
wallet-api, "Credentials"):
  app       every /v1 route but the operator's: the app key,
            `X-Cbdc-App-Key: <app_id>.<secret>`
  wallet    the routes of a wallet, /v1/wallets/{wallet_id}/…: the app key and
            the wallet's token, `Authorization: Bearer wt_…`
  operator  /v1/operator/…: an operator token, `Authorization: Bearer …`
They are put on each request by an auth provider, so schemathesis knows they
are explicit (its `ignored_auth` check then sends the same request without
them, and with wrong ones, and expects a refusal).

Environment:
  CBDC_FUZZ_SECRETS  the file scripts/fuzz-wallet-api.sh writes: app_key,
                     revoked_app_key and revoked_app_id (an app revoked in the
                     setup), operator_token, payer (a wallet id), tokens
                     (wallet id → token), outsider_wallet and outsider_token
                     (a wallet no dictionary names), to_drop ([wallet id,
                     token]: the wallet DELETE …/token may revoke),
                     to_revoke (the wallet revoke-tokens may revoke)
  CBDC_FUZZ_AUTH     role    (default) the right credentials per route; on a
                             wallet's route the token of the wallet in the
                             path, or the payer's if the path names another
                     swapped real credentials in the wrong place: the revoked
                             app's key on the app routes, the outsider's
                             token on a wallet's routes, the payer's token as
                             the operator token (no /v1 route may answer 2xx)
                     none    no credentials (no /v1 route may answer 2xx)
  CBDC_FUZZ_LOG      optional file: one JSON line per request sent (operation,
                     phase, generation mode, method, target, body, status,
                     answer, which credentials went — never a credential)

Besides the credentials: a `before_call` hook that keeps the pass's own
app and wallets from being revoked, an `after_call` hook writing that log (with
scripts/fuzz_common.py, which the other fuzz hooks share), and two checks,
`cbdc_wallet_api_valid_input_understood` and
`cbdc_wallet_api_credentials_enforced` (below).
"""

import json
import os
import sys

import schemathesis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fuzz_common  # noqa: E402  (the request log and what the checks share)

SECRETS = os.environ.get("CBDC_FUZZ_SECRETS", "")
MODE = os.environ.get("CBDC_FUZZ_AUTH", "role")
LOG = os.environ.get("CBDC_FUZZ_LOG")
APP_KEY_HEADER = "X-Cbdc-App-Key"
DROP_TOKEN = "DELETE /v1/wallets/{wallet_id}/token"

if MODE not in ("role", "swapped", "none"):
    raise SystemExit(f"CBDC_FUZZ_AUTH is role, swapped or none, not {MODE!r}")

with open(SECRETS, encoding="utf-8") as f:
    _secrets = json.load(f)
TOKENS = dict(_secrets["tokens"])
DROP_WALLET, DROP_WALLET_TOKEN = _secrets["to_drop"]
# What each credential is called in the log.
NAMES = {
    _secrets["app_key"]: "app",
    _secrets["revoked_app_key"]: "revoked_app",
    f"Bearer {_secrets['operator_token']}": "operator",
    f"Bearer {_secrets['outsider_token']}": "outsider",
    f"Bearer {DROP_WALLET_TOKEN}": "to_drop",
    **{f"Bearer {token}": f"wallet:{wallet}" for wallet, token in TOKENS.items()},
}


def audience(path):
    """`operator`, `wallet`, `app`, or None for the routes without credentials."""
    if path == "/v1/operator" or path.startswith("/v1/operator/"):
        return "operator"
    if path.startswith("/v1/wallets/{wallet_id}"):
        return "wallet"
    if path == "/v1" or path.startswith("/v1/"):
        return "app"
    return None


def credentials(case):
    """(app key, bearer token) for the case in this pass's mode; None: none."""
    who = audience(case.operation.path)
    if who is None or MODE == "none":
        return None
    if MODE == "swapped":
        return {
            "app": (_secrets["revoked_app_key"], None),
            "wallet": (_secrets["app_key"], _secrets["outsider_token"]),
            "operator": (None, TOKENS[_secrets["payer"]]),
        }[who]
    if who == "operator":
        return (None, _secrets["operator_token"])
    if who == "app":
        return (_secrets["app_key"], None)
    if case.operation.label == DROP_TOKEN:
        # Only this wallet's token may be revoked: the others serve to the end.
        return (_secrets["app_key"], DROP_WALLET_TOKEN)
    wallet = (case.path_parameters or {}).get("wallet_id")
    return (_secrets["app_key"], TOKENS.get(wallet, TOKENS[_secrets["payer"]]))


if MODE != "none":

    @schemathesis.auth(refresh_interval=None)
    class Credentials:
        """The app key and bearer token of the route (see `credentials`)."""

        def get(self, case, ctx):
            return credentials(case)

        def set(self, case, data, ctx):
            app_key, token = data
            case.headers = dict(case.headers or {})
            if app_key is not None:
                case.headers[APP_KEY_HEADER] = app_key
            if token is not None:
                case.headers["Authorization"] = f"Bearer {token}"


# What the fuzzer may revoke. It learns ids from the answers too (the apps
# GET /v1/operator/apps lists, the wallets it opens), so a revocation that
# names the pass's own app or one of its wallets is sent for the app or
# wallet kept to be revoked instead: the route is still asked, and the pass
# keeps its credentials to the end.
REVOKE_APP = "POST /v1/operator/apps/{app_id}/revoke"
REVOKE_TOKENS = "POST /v1/operator/wallets/{wallet_id}/revoke-tokens"
KEEP_APPS = {_secrets["app_key"].split(".", 1)[0]}
KEEP_WALLETS = set(TOKENS) | {_secrets["outsider_wallet"]}


@schemathesis.hook
def before_call(context, case, **kwargs):
    parameters = case.path_parameters or {}
    if case.operation.label == REVOKE_APP and parameters.get("app_id") in KEEP_APPS:
        case.path_parameters = {**parameters, "app_id": _secrets["revoked_app_id"]}
    if case.operation.label == REVOKE_TOKENS and parameters.get("wallet_id") in KEEP_WALLETS:
        case.path_parameters = {**parameters, "wallet_id": _secrets["to_revoke"]}


@schemathesis.hook
def after_call(context, case, response):
    headers = response.request.headers

    def name(value):
        if not value:
            return None
        return NAMES.get(value, value[:12])

    fuzz_common.log_call(
        LOG,
        case,
        response,
        app_key=name(headers.get(APP_KEY_HEADER)),
        token=name(headers.get("authorization")),
        idempotency_key=headers.get("idempotency-key"),
    )


# A request the document admits must not be refused for its *shape*.
# positive_data_acceptance takes 400 on POST /v1/wallets/{wallet_id}/payments
# only (scripts/fuzz-wallet-api.sh): `to` is a bech32m address and `uri` a
# `cbdc:` URI, whose checksum and grammar JSON Schema cannot express, and the
# body is exactly one of three shapes, which the document says in words.
# This check keeps the rest of that route honest: a schema-valid request
# answered 400 for its JSON or its Idempotency-Key means the document and the
# wallet API disagree.
PAY = "POST /v1/wallets/{wallet_id}/payments"
# What a schema-valid payment may still be refused for: the address, the
# body's shape, a URI's own codes (wallet-api/src/uri.rs), a URI that
# disagrees with the body.
PAY_CONTENT_ERRORS = {
    "bad_address",
    "bad_body",
    "amount_required",
    "uri_mismatch",
}
URI_ERRORS = {
    "bad_scheme",
    "bad_address",
    "bad_amount",
    "bad_reference",
    "bad_request_id",
    "bad_expiry",
    "bad_escape",
    "bad_query",
    "unknown_parameter",
    "duplicate_parameter",
    "uri_too_long",
}


@schemathesis.check
def cbdc_wallet_api_valid_input_understood(ctx, response, case):
    if case.operation.label != PAY or response.status_code != 400:
        return None  # positive_data_acceptance judges the other routes
    if not fuzz_common.positive(case):
        return None
    code = fuzz_common.error_code(response)
    allowed = set(PAY_CONTENT_ERRORS)
    if isinstance(case.body, dict) and case.body.get("uri") is not None:
        allowed |= URI_ERRORS
    if code in allowed:
        return None
    raise AssertionError(f"A payment the document admits was refused with 400 {code or '(no code)'}")


# Without credentials, or with credentials of someone else, no /v1 route may
# do what was asked (the document says 401 or 403; a malformed request may be
# refused for that first).
@schemathesis.check
def cbdc_wallet_api_credentials_enforced(ctx, response, case):
    if MODE == "role" or audience(case.operation.path) is None:
        return None
    if 200 <= response.status_code < 300:
        raise AssertionError(
            f"{case.operation.label} answered {response.status_code} in the {MODE} pass "
            "(credentials missing or not this route's)"
        )
    return None
