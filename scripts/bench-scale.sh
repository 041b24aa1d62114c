#!/usr/bin/env bash
# Scale benchmark (issue 4): the ledger with 10^4, 10^5 and 10^6 unspent notes.
#
# For each size: creates a fresh PostgreSQL database, adds that many filler
# notes with `cbdc seed` (commitments to zero, balanced, without proofs: see
# ledger/service/src/store/seed.rs; `cbdc audit` refuses such a database, the
# supply-only audit passes), times the live supply audit
# (`cbdc audit --supply-only`) AUDIT_RUNS times and reports the median and the
# audit's peak memory, then runs `cbdc bench` against the ledger on it (`throughput_at_size`,
# below) and drops the database. Everything it prints goes to stdout; progress
# and logs to stderr.
#
# Settings (environment):
#   DATABASE_URL_BASE   server URL without a database   (postgres://postgres@127.0.0.1:5432)
#   SCALE_SIZES         unspent notes per run            ("10000 100000 1000000")
#   SCALE_NOTES_PER_TX  filler notes per kernel, 1..256  (256)
#   AUDIT_RUNS          timed audits per size            (5)
#   SCALE_THROUGHPUT    0: skip the throughput run at each size       (1)
#   SCALE_TRANSACTIONS  transfers per throughput run      (5000)
#   SCALE_CLIENTS       clients per throughput run        (64)
#   BENCH_PORT          the ledger's port                (7481)
#   CARGO_TARGET_DIR    where cargo builds               (target)
set -euo pipefail
cd "$(dirname "$0")/.."

BASE=${DATABASE_URL_BASE:-postgres://postgres@127.0.0.1:5432}
SIZES=${SCALE_SIZES:-10000 100000 1000000}
PER_TX=${SCALE_NOTES_PER_TX:-256}
RUNS=${AUDIT_RUNS:-5}
SCALE_TRANSACTIONS=${SCALE_TRANSACTIONS:-5000}
SCALE_CLIENTS=${SCALE_CLIENTS:-64}
PORT=${BENCH_PORT:-7481}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
LEDGER_URL="http://127.0.0.1:$PORT"
WORK=$(mktemp -d)
DB=""
SERVER_PID=""

cleanup() {
    stop_ledger >/dev/null 2>&1 || true
    if [ -n "$DB" ]; then
        psql -qX "$BASE/postgres" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "building cbdc (release)" >&2
cargo build --release --quiet --bin cbdc
CBDC="$TARGET_DIR/release/cbdc"
if ! "$CBDC" seed --help >/dev/null 2>&1; then
    echo "this cbdc has no 'seed' subcommand: wire ledger_service::store::seed::seed_filler_notes into src/main.rs first" >&2
    exit 1
fi

echo "## machine"
echo "nproc: $(nproc)"
echo "cpu: $(lscpu | grep 'Model name' | sed 's/Model name: *//')"
echo "postgres: $(psql -qXAt "$BASE/postgres" -c 'SHOW server_version')"
echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo

"$CBDC" keygen --out "$WORK/ledger.json" >/dev/null
"$CBDC" keygen --out "$WORK/officer-1.json" >/dev/null
"$CBDC" keygen --out "$WORK/officer-2.json" >/dev/null
"$CBDC" keygen --wallet --out "$WORK/bank.json" >/dev/null
public() { sed -n 's/.*"public": *"\([0-9a-f]*\)".*/\1/p' "$1"; }

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# Starts `cbdc ledger serve` on $1 with the run's block key and two officers
# (threshold 2, as scripts/bench-ledger.sh) and waits until it answers.
start_ledger() {
    local url=$1
    "$CBDC" ledger serve \
        --listen "127.0.0.1:$PORT" \
        --database-url "$url" \
        --block-key "$WORK/ledger.json" \
        --threshold 2 \
        --officer "officer-1=$(public "$WORK/officer-1.json")" \
        --officer "officer-2=$(public "$WORK/officer-2.json")" \
        2>"$WORK/ledger.log" &
    SERVER_PID=$!
    for _ in $(seq 300); do
        curl -fsS "$LEDGER_URL/healthz" >/dev/null 2>&1 && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/ledger.log" >&2; return 1; }
        sleep 0.1
    done
    echo "the ledger did not answer on $LEDGER_URL" >&2
    return 1
}

# Prints the ledger's peak resident memory (VmHWM) and stops it.
stop_ledger() {
    [ -n "$SERVER_PID" ] || return 0
    echo "ledger peak memory: $(awk '/^VmHWM/ { printf "%.0f MB", $2 / 1024 }' "/proc/$SERVER_PID/status")"
    kill "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}

# ---- throughput at each size --------------------------------------------------
# Starts the ledger on the seeded database (with the key that signed the
# filler's blocks), runs `cbdc bench` with SCALE_CLIENTS clients and
# SCALE_TRANSACTIONS transfers as scripts/bench-ledger.sh does, and reports the
# ledger's peak memory under that load. Issue 4 asks for the throughput at 10^5
# and 10^6 notes to be within 20 % of the 10^4 figure.
throughput_at_size() {
    local notes=$1 url=$2
    if [ "${SCALE_THROUGHPUT:-1}" != 1 ]; then
        echo "throughput: skipped (SCALE_THROUGHPUT=0)"
        return
    fi
    start_ledger "$url"
    echo "\$ cbdc bench --target ledger --transactions $SCALE_TRANSACTIONS --clients $SCALE_CLIENTS   ($notes filler notes)"
    "$CBDC" bench --target ledger --ledger "$LEDGER_URL" \
        --officer-key "$WORK/officer-1.json" --officer-key "$WORK/officer-2.json" \
        --bank-key "$WORK/bank.json" --transactions "$SCALE_TRANSACTIONS" --clients "$SCALE_CLIENTS"
    stop_ledger
}
# -----------------------------------------------------------------------------

for notes in $SIZES; do
    DB="cbdc_scale_$$_$notes"
    url="$BASE/$DB"
    echo "## $notes unspent notes ($PER_TX per kernel)"
    psql -qX "$BASE/postgres" -c "CREATE DATABASE $DB" >/dev/null
    echo "load before: $(uptime | sed 's/.*load average/load average/')"
    echo "\$ cbdc seed --notes $notes --notes-per-transaction $PER_TX"
    "$CBDC" seed --database-url "$url" --block-key "$WORK/ledger.json" \
        --notes "$notes" --notes-per-transaction "$PER_TX"
    echo "\$ cbdc audit --supply-only   ($RUNS runs)"
    : >"$WORK/audit-times"
    : >"$WORK/audit-peaks"
    for _ in $(seq "$RUNS"); do
        # `cbdc audit --supply-only` prints "...; <seconds> s" (the audit alone,
        # without opening the store); GNU time adds the process's peak RSS.
        line=$(/usr/bin/time -f 'peak_kb %M' -o "$WORK/time" \
            "$CBDC" audit --database-url "$url" --supply-only)
        echo "$line"
        echo "$line" | sed -n 's/.*; \([0-9.]*\) s$/\1/p' >>"$WORK/audit-times"
        sed -n 's/^peak_kb //p' "$WORK/time" >>"$WORK/audit-peaks"
    done
    echo "supply audit, median of $RUNS: $(median <"$WORK/audit-times") s;" \
        "peak memory $(sort -n "$WORK/audit-peaks" | tail -1 | awk '{ printf "%.0f MB", $1 / 1024 }')"
    echo "load after: $(uptime | sed 's/.*load average/load average/')"
    throughput_at_size "$notes" "$url"
    psql -qX "$BASE/postgres" -c "DROP DATABASE $DB WITH (FORCE)" >/dev/null
    DB=""
    echo
done
