# Shared by scripts/bench-ledger.sh and scripts/bench-scale.sh (sourced, not
# run): build `cbdc`, describe the machine, make the run's keys, start and stop
# a ledger with two officers (threshold 2), and load it with `cbdc bench`.
#
# The caller sets, before sourcing: BASE (server URL without a database),
# PORT, TARGET_DIR, WORK (a scratch directory), and SERVER_PID="".
# Afterwards CBDC is the binary and LEDGER_URL the ledger's address. With
# CBDC_BIN set, that binary is used and nothing is built.

LEDGER_URL="http://127.0.0.1:$PORT"

# CBDC_BIN names a binary already built (nothing is built then).
if [ -n "${CBDC_BIN:-}" ]; then
    CBDC=$CBDC_BIN
else
    echo "building cbdc (release)" >&2
    cargo build --release --quiet --bin cbdc
    CBDC="$TARGET_DIR/release/cbdc"
fi

load_average() { uptime | sed 's/.*load average/load average/'; }

print_machine() {
    echo "## machine"
    echo "nproc: $(nproc)"
    echo "cpu: $(lscpu | grep 'Model name' | sed 's/Model name: *//')"
    echo "postgres: $(psql -qXAt "$BASE/postgres" -c 'SHOW server_version')"
    echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo
}

# The ledger's block key, two officers and a bank's wallet keys, in $WORK.
make_keys() {
    "$CBDC" keygen --out "$WORK/ledger.json" >/dev/null
    "$CBDC" keygen --out "$WORK/officer-1.json" >/dev/null
    "$CBDC" keygen --out "$WORK/officer-2.json" >/dev/null
    "$CBDC" keygen --wallet --out "$WORK/bank.json" >/dev/null
}

public_key() { sed -n 's/.*"public": *"\([0-9a-f]*\)".*/\1/p' "$1"; }

# Starts `cbdc ledger serve` on the database $1 with the run's block key and
# two officers (threshold 2) and waits until it answers.
start_ledger() {
    local url=$1
    "$CBDC" ledger serve \
        --listen "127.0.0.1:$PORT" \
        --database-url "$url" \
        --block-key "$WORK/ledger.json" \
        --threshold 2 \
        --audit-every-blocks 0 \
        --officer "officer-1=$(public_key "$WORK/officer-1.json")" \
        --officer "officer-2=$(public_key "$WORK/officer-2.json")" \
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

# Prints the ledger's peak and current resident memory and stops it.
stop_ledger() {
    [ -n "$SERVER_PID" ] || return 0
    grep -E '^(VmHWM|VmRSS)' "/proc/$SERVER_PID/status" |
        sed 's/^VmHWM/ledger peak resident (VmHWM)/; s/^VmRSS/ledger resident now (VmRSS)/'
    kill "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}

# PostgreSQL's server-wide WAL and checkpoint counters, one line of numbers:
# WAL records, full-page images, WAL bytes, writes forced by full WAL buffers,
# checkpoints (timed + requested), buffers written by backends themselves.
pg_counters() {
    psql -qXAt -F ' ' "$BASE/postgres" -c "SELECT w.wal_records, w.wal_fpi, w.wal_bytes,
        w.wal_buffers_full, b.checkpoints_timed + b.checkpoints_req, b.buffers_backend
        FROM pg_stat_wal w, pg_stat_bgwriter b"
}

# What PostgreSQL did between two pg_counters lines $1 and $2, per transfer
# of $3 (the counters are server-wide: everything on the server counts).
pg_report() {
    echo "$1 $2 $3" | awk '{
        n = $13 > 0 ? $13 : 1
        printf "postgres (server-wide, per transfer): WAL %.0f bytes, %.1f records, %.2f full-page images; %d writes forced by full WAL buffers, %d checkpoints, %d buffers written by backends\n",
            ($9 - $3) / n, ($7 - $1) / n, ($8 - $2) / n, $10 - $4, $11 - $5, $12 - $6 }'
}

# `cbdc bench` against the running ledger: $1 clients, $2 transfers.
run_bench() {
    local clients=$1 n=$2
    echo '$ cbdc bench --target ledger --ledger '"$LEDGER_URL"' --officer-key officer-1.json --officer-key officer-2.json --bank-key bank.json --transactions '"$n"' --clients '"$clients"
    "$CBDC" bench --target ledger --ledger "$LEDGER_URL" \
        --officer-key "$WORK/officer-1.json" --officer-key "$WORK/officer-2.json" \
        --bank-key "$WORK/bank.json" --transactions "$n" --clients "$clients"
}
