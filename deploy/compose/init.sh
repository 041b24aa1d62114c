#!/bin/sh
# The compose trial's one-shot `init`: makes every key the trial needs with
# `cbdc keygen`, once. A key that exists is never replaced (keygen refuses to
# overwrite, and a ledger or an admitted bank must keep its key), so running
# this again changes nothing.
#
#   ledger/block-key.json        the ledger's block key (signs every block)
#   officers/officer-{1,2,3}.json the three officers' signing keys
#   bank-{a,b}/bank.json         each bank's wallet (spend + view keys)
#   bank-{a,b}/bank-public.json  its public half, for `cbdc bank admit`
#
# In production each of these is made by the party that holds it, on its own
# machine (deploy/README.md, "Keys").
set -eu

keys=${CBDC_KEYS_DIR:-/var/lib/cbdc/keys}
umask 077
mkdir -p "$keys/ledger" "$keys/officers" "$keys/bank-a" "$keys/bank-b"

signing() {
  if [ -e "$1" ]; then echo "init: $1 exists"; else cbdc keygen --out "$1"; fi
}

signing "$keys/ledger/block-key.json"
for i in 1 2 3; do
  signing "$keys/officers/officer-$i.json"
done
for bank in bank-a bank-b; do
  if [ -e "$keys/$bank/bank.json" ]; then
    echo "init: $keys/$bank/bank.json exists"
  else
    cbdc keygen --wallet --out "$keys/$bank/bank.json" --public-out "$keys/$bank/bank-public.json"
  fi
done
echo "init: keys ready in $keys"
