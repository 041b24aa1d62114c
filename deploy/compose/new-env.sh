#!/bin/sh
# Writes deploy/.env, the compose trial's secrets, with fresh random values
# (compose reads it: deploy/compose.yaml refuses to start without each one).
# Refuses to overwrite an existing file: the databases and the gateways'
# sealed wallet keys depend on these values.
set -eu

env_file="$(cd "$(dirname "$0")/.." && pwd)/.env"
if [ -e "$env_file" ]; then
  echo "new-env: $env_file exists; remove it first to start afresh (with fresh volumes)" >&2
  exit 1
fi

hex() {
  od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'
}

umask 077
{
  echo "# deploy/.env: the compose trial's secrets (made by deploy/compose/new-env.sh)."
  echo "POSTGRES_PASSWORD=$(hex 16)"
  echo "LEDGER_DB_PASSWORD=$(hex 16)"
  echo "GATEWAY_A_DB_PASSWORD=$(hex 16)"
  echo "GATEWAY_B_DB_PASSWORD=$(hex 16)"
  echo "WALLET_API_DB_PASSWORD=$(hex 16)"
  echo "BANK_A_KEK=$(hex 32)"
  echo "BANK_B_KEK=$(hex 32)"
  echo "BANK_A_OPERATOR_TOKEN=$(hex 16)"
  echo "BANK_B_OPERATOR_TOKEN=$(hex 16)"
  echo "BANK_A_INTERNAL_TOKEN=$(hex 16)"
  echo "BANK_B_INTERNAL_TOKEN=$(hex 16)"
  echo "WALLET_API_OPERATOR_TOKEN=$(hex 16)"
  echo "GRAFANA_ADMIN_PASSWORD=$(hex 12)"
} > "$env_file"
echo "new-env: wrote $env_file (mode 0600)"
