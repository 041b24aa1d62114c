"""Schemathesis hooks for fuzzing a bank gateway's API with its bearer tokens.

Loaded by scripts/fuzz-gateway.sh through SCHEMATHESIS_HOOKS. The gateway has
two audiences, each with its own tokens: the internal API (`/v1/wallets…`) and
the operator API (`/v1/operator/…`). The token is picked per route by an auth
provider, so schemathesis knows the credentials are explicit (its
`ignored_auth` check then sends the same request without them, and with a
wrong one, and expects a refusal).

Environment:
  CBDC_FUZZ_SECRETS  the devnet's gateway secrets file (keys/bank-a-gateway.json:
                     operator_token, internal_token)
  CBDC_FUZZ_AUTH     role    (default) the internal token on the internal
                             routes, the operator token on the operator routes
                     swapped the operator token on the internal routes and the
                             internal token on the operator routes (every /v1
                             route must answer 403)
                     none    no token (every /v1 route must answer 401)
  CBDC_FUZZ_LOG      optional file: one JSON line per request sent (operation,
                     phase, generation mode, method, target, body, status, answer)

Besides the tokens: an `after_call` hook writing that log (with
scripts/fuzz_common.py, which the other fuzz hooks share), and a check,
`cbdc_gateway_valid_input_understood` (below).
"""

import json
import os
import sys

import schemathesis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fuzz_common  # noqa: E402  (the request log and what the checks share)

SECRETS = os.environ.get("CBDC_FUZZ_SECRETS", "data/devnet/keys/bank-a-gateway.json")
MODE = os.environ.get("CBDC_FUZZ_AUTH", "role")
LOG = os.environ.get("CBDC_FUZZ_LOG")

if MODE not in ("role", "swapped", "none"):
    raise SystemExit(f"CBDC_FUZZ_AUTH is role, swapped or none, not {MODE!r}")


def audience(path):
    """`operator`, `internal`, or None for the routes that take no token."""
    if path.startswith("/v1/operator/") or path == "/v1/operator":
        return "operator"
    if path.startswith("/v1/") or path == "/v1":
        return "internal"
    return None


if MODE != "none":
    with open(SECRETS, encoding="utf-8") as f:
        _secrets = json.load(f)
    TOKENS = {
        "operator": _secrets["operator_token"],
        "internal": _secrets["internal_token"],
    }

    @schemathesis.auth(refresh_interval=None)
    class Bearer:
        """The token of the route's audience (or of the other one, `swapped`).

        A case whose `Authorization` header was generated to be invalid is
        left as generated (schemathesis skips the provider for it), and must
        be refused with 401.
        """

        def get(self, case, ctx):
            who = audience(case.operation.path)
            if who is None:
                return None
            if MODE == "swapped":
                who = "internal" if who == "operator" else "operator"
            return TOKENS[who]

        def set(self, case, data, ctx):
            case.headers = dict(case.headers or {})
            case.headers["Authorization"] = f"Bearer {data}"


@schemathesis.hook
def after_call(context, case, response):
    token = response.request.headers.get("authorization", "")
    # Which token went, never the token.
    if MODE != "none":
        sent = next((who for who, t in TOKENS.items() if token == f"Bearer {t}"), token[:12] or None)
    else:
        sent = token[:12] or None
    fuzz_common.log_call(LOG, case, response, token=sent, idempotency_key=response.request.headers.get("idempotency-key"))


# A request the document admits must not be refused for its *shape*.
# positive_data_acceptance takes 400 on POST /v1/wallets/{id}/payments only
# (scripts/fuzz-gateway.sh): `to` is a bech32m address, whose checksum JSON
# Schema cannot express. This check keeps the rest of that route honest: a
# schema-valid request answered 400 with any other code means the document
# and the gateway disagree (a body, id, limit or header the document allows).
CONTENT_ERRORS = {
    "POST /v1/wallets/{id}/payments": {"bad_address"},
}


@schemathesis.check
def cbdc_gateway_valid_input_understood(ctx, response, case):
    allowed = CONTENT_ERRORS.get(case.operation.label)
    if allowed is None or response.status_code != 400:
        return None  # positive_data_acceptance judges the other routes
    if not fuzz_common.positive(case):
        return None
    code = fuzz_common.error_code(response)
    if code in allowed:
        return None
    raise AssertionError(f"A request the document admits was refused with 400 {code or '(no code)'}")
