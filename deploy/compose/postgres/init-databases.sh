#!/bin/sh
# Run once by the postgres image on an empty data directory
# (/docker-entrypoint-initdb.d): one role and one database per service, each
# role with its own password (deploy/.env) and owning only its database.
# Written to be executed or sourced (the image does either), so no `exit`.
: "${LEDGER_DB_PASSWORD:?}" "${GATEWAY_A_DB_PASSWORD:?}" "${GATEWAY_B_DB_PASSWORD:?}" "${WALLET_API_DB_PASSWORD:?}"

for spec in "ledger:$LEDGER_DB_PASSWORD" "gateway_a:$GATEWAY_A_DB_PASSWORD" \
  "gateway_b:$GATEWAY_B_DB_PASSWORD" "wallet_api:$WALLET_API_DB_PASSWORD"; do
  name=${spec%%:*}
  password=${spec#*:}
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v name="$name" -v password="$password" <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'password';
CREATE DATABASE :"name" OWNER :"name";
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
SQL
done
