#!/usr/bin/env bash
# Fuzzes every operation of the ledger's API against its OpenAPI document with
# schemathesis, with signed requests (PROTOCOL.md §17, §21).
#
# Starts a devnet (`cbdc devnet`, embedded database) in a temporary directory
# on a free port of 127.0.0.1, then runs schemathesis on its /openapi.json in
# four passes:
#   role     every check; the bank's key for POST /v1/transactions, an
#            officer's for every other route (the main pass)
#   none     no signature: every /v1 route must answer 401, as documented
#   bank     the bank's key everywhere: officer routes must answer 403
#   officer  an officer's key everywhere: POST /v1/transactions must be 403
# The signing is done by scripts/fuzz_api_hooks.py with the reference signer
# of clients/python, on the bytes that go on the wire. Stops the devnet and
# removes its directory; exits 1 if any pass found a failure, 2 on a setup
# error. Needs `pip install schemathesis` (4.x) and python3.
#
# What is configured and why (the report of each pass says what it found):
#   - max_response_time 35 s: GET /v1/events is a documented long poll of up
#     to 30 s (wait_ms), which schemathesis's default 10 s limit would flag.
#   - positive_data_acceptance also takes 422 everywhere: a schema-valid
#     request the ledger refuses for a documented rule (unknown bank, supply
#     ceiling, a transaction that does not verify) is answered 422.
#   - positive_data_acceptance also takes 400 on POST /v1/transactions,
#     /v1/governance and /v1/issuances/{id}/approvals: their bodies carry curve
#     points, scalars, signatures, range proofs (and, for transactions, an
#     opaque binary encoding) whose validity JSON Schema cannot express, and
#     whose decoding failures are 400 by design (PROTOCOL.md §12.1). The hooks'
#     check `cbdc_schema_valid_json_understood` keeps the part that still fits:
#     a schema-valid body refused for its JSON shape, or an id refused for a
#     pattern the document does not state, is a failure on every route.
#   - known ids (notes, transactions, a proposal, owners, the demo bank) are
#     mixed into path, query and body values with probability 0.5, so the
#     200 answers of the GET /v1/{notes,transactions,issuances}/{id} routes are
#     checked against their schemas too.
#
# Settings (environment):
#   FUZZ_MAX_EXAMPLES  schemathesis --max-examples per operation  (50)
#   FUZZ_SEED          schemathesis --seed                        (1)
#   FUZZ_PASSES        which passes                               ("role none bank officer")
#   FUZZ_PHASES        schemathesis --phases                      (all of them)
#   FUZZ_PASS_TIMEOUT  seconds a pass may take before it is killed (420)
#   FUZZ_OUT           where the reports go                       (target/fuzz-api)
#   CBDC_BIN           the cbdc binary (else `cargo build -p cbdc`, then
#                      $CARGO_TARGET_DIR/debug/cbdc)
# What it shares with fuzz-gateway.sh and fuzz-wallet-api.sh (the settings,
# the devnet, running the passes) is scripts/fuzz-common.sh and fuzz_common.py.
set -euo pipefail
. "$(dirname "$0")/fuzz-common.sh"
fuzz_init fuzz-api "role none bank officer" "role none bank officer" target/fuzz-api
fuzz_tools
fuzz_cbdc_bin
fuzz_devnet --no-gateways

# Known ids, for the dictionaries of the schemathesis configuration.
python3 - "$LEDGER" "$KEYS" "$DEVNET_LOG" >"$WORK/schemathesis.toml" <<'PY' || die "the setup failed"
import json, re, sys, urllib.request
sys.path.insert(0, "clients/python")
sys.path.insert(0, "scripts")
import cbdc_request
from fuzz_common import acceptance, operation, values

ledger, keys, log = sys.argv[1:4]
officer = cbdc_request.load_secret(f"{keys}/officer-1.json")

def get(target):
    headers = cbdc_request.sign_request(officer, "GET", target, b"")
    with urllib.request.urlopen(urllib.request.Request(ledger + target, headers=headers), timeout=10) as r:
        return json.load(r)

events = get("/v1/events?after=0&limit=1000")["events"]
devnet = open(log, encoding="utf-8").read()
notes = sorted({e["note_id"] for e in events})
owners = sorted({e["owner"] for e in events})
txs = sorted({e["tx_id"] for e in events} | set(re.findall(r"\btx=([0-9a-f]{64})", devnet)))
proposals = sorted(set(re.findall(r"\bproposal=([0-9a-f]{32})", devnet)))
banks = [p["id"] for p in get("/v1/participants")["participants"] if p.get("role") == "bank"]
if not (notes and owners and txs and proposals and banks):
    sys.exit(f"the devnet has no notes, transactions, proposals or banks: {events}")

acceptance(["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"])
values("note_ids", notes)
values("tx_ids", txs)
values("proposal_ids", proposals)
values("owners", owners)
values("banks", banks)
operation(["GET /v1/notes/{id}"], {"path.id": "note_ids"})
operation(["GET /v1/transactions/{id}"], {"path.id": "tx_ids"})
operation(["GET /v1/issuances/{id}"], {"path.id": "proposal_ids"})
operation(["GET /v1/events"], {"query.owner": "owners"})
operation(["POST /v1/issuances"], {"body.bank_id": "banks"})
operation(
    ["POST /v1/issuances/{id}/approvals"],
    {"path.id": "proposal_ids"},
    ["2xx", "3xx", "400", "401", "403", "404", "409", "422", "429", "5xx"],
)
operation(
    ["POST /v1/transactions", "POST /v1/governance"],
    None,
    ["2xx", "3xx", "400", "401", "403", "404", "409", "422", "429", "5xx"],
)
PY

FUZZ_URL=$LEDGER/openapi.json
FUZZ_HOOKS=$ROOT/scripts/fuzz_api_hooks.py
FUZZ_ENV=(CBDC_FUZZ_KEYS="$KEYS")
FUZZ_ARGS=(--max-response-time 35 --request-timeout 40)
fuzz_passes
