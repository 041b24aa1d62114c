#!/bin/sh
# The compose trial's one-shot `admit-banks`, once the ledger is ready: officer 1
# admits bank A and bank B with their public wallet files (one governance
# entry each). A bank already admitted is left alone, so running this again
# changes nothing. In production an officer runs the same `cbdc bank admit`
# from the officer's own machine with the public file the bank handed over.
set -eu

keys=${CBDC_KEYS_DIR:-/var/lib/cbdc/keys}
ledger=${CBDC_LEDGER_URL:-http://ledger:7400}
officer="$keys/officers/officer-1.json"

admit() {
  id=$1
  name=$2
  if cbdc request GET /v1/participants --ledger "$ledger" --key "$officer" | grep -q "\"id\": \"$id\""; then
    echo "admit-banks: $id is already a participant"
  else
    cbdc bank admit --ledger "$ledger" --key "$officer" --id "$id" --name "$name" --wallet-file "$keys/$id/bank-public.json"
    echo "admit-banks: admitted $id"
  fi
}

admit bank-a "Bank A"
admit bank-b "Bank B"
