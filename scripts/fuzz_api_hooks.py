"""Schemathesis hooks for fuzzing the ledger's API with signed requests.

Loaded by scripts/fuzz-api.sh through SCHEMATHESIS_HOOKS. Every `/v1` request is
signed (PROTOCOL.md §17, §21) with the reference signer of clients/python, on the
bytes that go on the wire: the signing is a `requests` auth object, which
`requests` runs after it has encoded the URL and serialised the body, so it sees
the prepared request's method, request target (`path_url`, percent-escapes as
sent) and body bytes.

Environment:
  CBDC_FUZZ_KEYS  the devnet's key directory (officer-1.json, demo-bank.json)
  CBDC_FUZZ_AUTH  role    (default) the bank's key for POST /v1/transactions,
                          an officer's for every other route
                  bank    the bank's key everywhere (officer routes must be 403)
                  officer an officer's key everywhere (submit must be 403)
                  none    no signature (every /v1 route must be 401)
  CBDC_FUZZ_LOG   optional file: one JSON line per request sent (operation,
                  phase, generation mode, method, target, body, status, answer)

Besides the signer: an `after_call` hook writing that log (with
scripts/fuzz_common.py, which the other fuzz hooks share), and a check,
`cbdc_schema_valid_json_understood` (below).
"""

import json
import os
import sys

import requests
import schemathesis
from schemathesis.core.parameters import ParameterLocation

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "clients", "python"))
sys.path.insert(0, HERE)

import cbdc_request  # noqa: E402  (the reference signer, standard library only)
import fuzz_common  # noqa: E402  (the request log and what the checks share)

KEYS = os.environ.get("CBDC_FUZZ_KEYS", "data/devnet/keys")
MODE = os.environ.get("CBDC_FUZZ_AUTH", "role")
LOG = os.environ.get("CBDC_FUZZ_LOG")


def _wire_body(body):
    if body is None:
        return b""
    if isinstance(body, str):
        # urllib3 sends a str body encoded as UTF-8.
        return body.encode("utf-8")
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    raise TypeError(f"cannot sign a streamed body ({type(body).__name__})")


class CbdcSignature(requests.auth.AuthBase):
    """Signs a prepared request: method, path-and-query and body as sent."""

    def __init__(self, mode):
        self.officer = cbdc_request.load_secret(os.path.join(KEYS, "officer-1.json"))
        self.bank = cbdc_request.load_secret(os.path.join(KEYS, "demo-bank.json"))
        self.mode = mode

    def secret_for(self, method, path):
        if self.mode == "bank":
            return self.bank
        if self.mode == "officer":
            return self.officer
        if method == "POST" and path.rstrip("/") == "/v1/transactions":
            return self.bank
        return self.officer

    def __call__(self, r):
        target = r.path_url  # what requests puts on the request line
        path = target.split("?", 1)[0]
        if not path.startswith("/v1"):
            return r
        secret = self.secret_for(r.method, path)
        headers = cbdc_request.sign_request(secret, r.method, target, _wire_body(r.body))
        for name, value in headers.items():
            r.headers[name] = value
        return r


if MODE != "none":

    @schemathesis.auth(refresh_interval=None)
    class SignedRequests:
        """Signs every case except one whose headers were generated to be invalid.

        The four x-cbdc-* headers are the only header parameters of the document,
        so a case negative in its headers (a header missing, garbage in one) is
        sent as generated, unsigned, and must be refused with 401; signing it
        would turn it back into a valid request that schemathesis still counts
        as invalid. Everything else is signed on the wire by `CbdcSignature`,
        attached the way schemathesis's own `set_from_requests` attaches a
        `requests` auth object.
        """

        signer = CbdcSignature(MODE)

        def get(self, case, ctx):
            meta = case._meta  # reading case.meta would revalidate the case
            if meta is not None and meta.is_negative_at(ParameterLocation.HEADER):
                return None
            return self.signer

        def set(self, case, data, ctx):
            case._auth = data


@schemathesis.hook
def after_call(context, case, response):
    signer = response.request.headers.get("x-cbdc-key", "")[:8]
    fuzz_common.log_call(LOG, case, response, signed_by=signer)


# A JSON body the document admits must not be refused for its *shape*. The
# routes that carry curve points, scalars, signatures and range proofs answer
# 400 for encodings JSON Schema cannot describe (PROTOCOL.md §12.1), so
# scripts/fuzz-api.sh lets positive_data_acceptance take their 400s; this check
# keeps the part of it that still fits: serde's shape errors (a type, field,
# variant or number the document allows) and ids refused by a pattern the
# document does not state mean the document and the server disagree.
SHAPE_ERRORS = (
    "invalid type:",
    "invalid value:",
    "invalid length",
    "unknown field",
    "missing field",
    "duplicate field",
    "unknown variant",
)


@schemathesis.check
def cbdc_schema_valid_json_understood(ctx, response, case):
    if response.status_code not in (400, 422) or not fuzz_common.positive(case):
        return None
    try:
        error = json.loads(response.content)
        code, message = error.get("code", ""), error.get("message", "")
    except (ValueError, AttributeError):
        return None
    if code == "invalid_json" and message.startswith(SHAPE_ERRORS):
        raise AssertionError(f"A body the document admits was refused for its shape: {code}: {message}")
    if code.startswith("bad_") and code.endswith("_id"):
        raise AssertionError(f"An id the document admits was refused: {code}: {message}")
    return None
