# What the fuzz scripts share (scripts/fuzz-api.sh, fuzz-gateway.sh,
# fuzz-wallet-api.sh): their settings, a devnet in a temporary directory, and
# schemathesis passes with their reports. Sourced, not run:
#
#   . scripts/fuzz-common.sh
#   fuzz_init NAME "DEFAULT PASSES" "ALLOWED PASSES" DEFAULT_OUT
#   fuzz_tools; fuzz_cbdc_bin
#   fuzz_devnet [devnet flags]          # sets DEVNET_LOG, DEVNET_DIR, KEYS, DEVNET_PORT
#   ... write "$WORK/schemathesis.toml" (scripts/fuzz_common.py helps) ...
#   FUZZ_URL=... FUZZ_HOOKS=... FUZZ_ARGS=(...) FUZZ_ROLE_ARGS=(...) FUZZ_ENV=(...)
#   fuzz_passes                         # exits 0, or 1 if a pass failed
#
# Settings (environment), the same for every script:
#   FUZZ_MAX_EXAMPLES  schemathesis --max-examples per operation  (50)
#   FUZZ_SEED          schemathesis --seed                        (1)
#   FUZZ_PASSES        which passes                               (the script's)
#   FUZZ_PHASES        schemathesis --phases                      (all of them)
#   FUZZ_PASS_TIMEOUT  seconds a pass may take before it is killed (420)
#   FUZZ_OUT           where the reports go                       (target/<name>)
#   FUZZ_EXCLUDE       operations left out, `;`-separated labels such as
#                      "GET /v1/wallets/{id}/history" (none; the tests leave
#                      out those with a known bug, and have an ignored test
#                      that runs them)
#   FUZZ_ONLY          the only operations run, the same way (all of them)
#   FUZZ_KEEP          if set, the temporary directory (the services' logs,
#                      databases and secrets) is kept
#   CBDC_BIN           the cbdc binary (else `cargo build -p cbdc`, then
#                      $CARGO_TARGET_DIR/debug/cbdc)
#
# Each pass runs with --workers 1 and --generation-database none, so that
# with FUZZ_SEED the same run twice sends the same requests (up to the ids
# the services hand out); the reports of pass P are $OUT/P.txt (the
# summary), $OUT/P.junit.xml and $OUT/P.requests.jsonl (one line per request,
# written by the hooks through scripts/fuzz_common.py).

# fuzz_init NAME DEFAULT_PASSES ALLOWED_PASSES DEFAULT_OUT
fuzz_init() {
    FUZZ_NAME=$1
    local default_passes=$2 allowed=$3 default_out=$4
    cd "$(dirname "${BASH_SOURCE[0]}")/.."
    ROOT=$(pwd)
    MAX_EXAMPLES=${FUZZ_MAX_EXAMPLES:-50}
    SEED=${FUZZ_SEED:-1}
    PASSES=${FUZZ_PASSES:-$default_passes}
    PHASES=${FUZZ_PHASES:-}
    PASS_TIMEOUT=${FUZZ_PASS_TIMEOUT:-420}
    OUT=${FUZZ_OUT:-$default_out}
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/cbdc-$FUZZ_NAME.XXXXXX")
    # Processes to stop on exit, in order (the devnet last: the others use it).
    FUZZ_PIDS=()
    FUZZ_ARGS=()
    FUZZ_ROLE_ARGS=()
    FUZZ_ENV=()
    trap fuzz_cleanup EXIT
    trap 'exit 2' INT TERM
    local pass
    for pass in $PASSES; do
        case " $allowed " in
        *" $pass "*) ;;
        *) die "unknown pass $pass (${allowed// /, })" ;;
        esac
    done
}

die() {
    echo "$FUZZ_NAME: $*" >&2
    exit 2
}

# Stops a process gracefully (TERM, five seconds), then for good.
fuzz_stop() {
    local pid=$1
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

fuzz_cleanup() {
    local pid
    for pid in "${FUZZ_PIDS[@]}"; do fuzz_stop "$pid"; done
    if [ -n "${FUZZ_KEEP:-}" ]; then
        echo "$FUZZ_NAME: kept $WORK (the services' logs and databases)" >&2
    else
        rm -rf "$WORK"
    fi
}

# Runs `"$@"` in the background, stopped on exit (before those started earlier).
fuzz_background() {
    "$@" &
    FUZZ_PIDS=("$!" "${FUZZ_PIDS[@]}")
}

fuzz_tools() {
    command -v schemathesis >/dev/null || die "schemathesis is not installed (pip install schemathesis)"
    command -v curl >/dev/null || die "curl is needed"
    echo "$FUZZ_NAME: $(schemathesis --version 2>&1 | head -1), python $(python3 -c 'import sys; print(sys.version.split()[0])')" >&2
}

fuzz_cbdc_bin() {
    if [ -z "${CBDC_BIN:-}" ]; then
        cargo build --quiet -p cbdc --bin cbdc || die "cargo build failed"
        CBDC_BIN=${CARGO_TARGET_DIR:-target}/debug/cbdc
    fi
    [ -x "$CBDC_BIN" ] || die "no cbdc binary at $CBDC_BIN"
}

fuzz_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until `$2` (a file) has a line matching `$3` (grep -E), while process
# `$1` lives; at most `$4` half-seconds.
fuzz_wait_for_line() {
    local pid=$1 file=$2 pattern=$3 tries=$4
    for _ in $(seq 1 "$tries"); do
        grep -qE "$pattern" "$file" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || { tail -40 "$file" >&2; die "$file: the process exited"; }
        sleep 0.5
    done
    tail -20 "$file" >&2
    die "$file: no line matching $pattern in time"
}

# Starts `cbdc devnet` (embedded databases) in $WORK/devnet on a free port of
# 127.0.0.1, with the flags given, and waits until it serves. Sets
# DEVNET_DIR, DEVNET_LOG, DEVNET_PORT, LEDGER (its URL) and KEYS.
fuzz_devnet() {
    DEVNET_PORT=$(fuzz_free_port)
    DEVNET_DIR=$WORK/devnet
    DEVNET_LOG=$WORK/devnet.log
    LEDGER=http://127.0.0.1:$DEVNET_PORT
    KEYS=$DEVNET_DIR/keys
    fuzz_background env -u DATABASE_URL "$CBDC_BIN" devnet --data-dir "$DEVNET_DIR" --listen "127.0.0.1:$DEVNET_PORT" "$@" >"$DEVNET_LOG" 2>&1
    DEVNET_PID=${FUZZ_PIDS[0]}
    fuzz_wait_for_line "$DEVNET_PID" "$DEVNET_LOG" "^serving until" 240
    curl -fsS "$LEDGER/healthz" >/dev/null || die "$LEDGER/healthz does not answer"
    echo "$FUZZ_NAME: devnet up (pid $DEVNET_PID, $DEVNET_DIR, ledger $LEDGER)" >&2
}

# The URL the devnet printed for bank `$1`'s gateway.
fuzz_gateway_url() {
    sed -n "s|^gateway  *$1 \(http://127\.0\.0\.1:[0-9]*\) .*|\1|p" "$DEVNET_LOG" | head -1
}

# fuzz_pass PASS: one schemathesis run on $FUZZ_URL with the hooks
# $FUZZ_HOOKS, CBDC_FUZZ_AUTH=PASS, the extra environment FUZZ_ENV and the
# extra arguments FUZZ_ARGS (and FUZZ_ROLE_ARGS in the role pass), from the
# configuration $WORK/schemathesis.toml.
fuzz_pass() {
    local pass=$1
    rm -f "$OUT/$pass.requests.jsonl"
    local started=$SECONDS rc=0
    # schemathesis keeps its crash cache (for `st replay`) per pass, out of the tree.
    { printf '[cache]\ndirectory = "%s"\n\n' "$OUT/cache-$pass"; cat "$WORK/schemathesis.toml"; } >"$WORK/$pass.toml"
    local phases=() pass_args=() name names
    [ -n "$PHASES" ] && phases=(--phases "$PHASES")
    IFS=';' read -r -a names <<<"${FUZZ_EXCLUDE:-}"
    for name in "${names[@]}"; do
        if [ -n "$name" ]; then pass_args+=(--exclude-name "$name"); fi
    done
    IFS=';' read -r -a names <<<"${FUZZ_ONLY:-}"
    for name in "${names[@]}"; do
        if [ -n "$name" ]; then pass_args+=(--include-name "$name"); fi
    done
    if [ "$pass" = role ]; then pass_args+=("${FUZZ_ROLE_ARGS[@]}"); fi
    env "${FUZZ_ENV[@]}" CBDC_FUZZ_AUTH="$pass" CBDC_FUZZ_LOG="$OUT/$pass.requests.jsonl" \
        SCHEMATHESIS_HOOKS="$FUZZ_HOOKS" \
        timeout --kill-after=10 "$PASS_TIMEOUT" \
        schemathesis --no-color --config-file "$WORK/$pass.toml" run "$FUZZ_URL" \
            --checks all "${FUZZ_ARGS[@]}" "${pass_args[@]}" "${phases[@]}" \
            --max-examples "$MAX_EXAMPLES" --seed "$SEED" --workers 1 \
            --continue-on-failure --generation-database none \
            --report junit --report-junit-path "$OUT/$pass.junit.xml" \
            >"$OUT/$pass.txt" 2>&1 || rc=$?
    local result
    result=$(grep -E "^=+ .* in [0-9.]+s =+$" "$OUT/$pass.txt" | tail -1 | tr -d '=' | sed 's/^ *//; s/ *$//') || true
    [ "$rc" = 124 ] && result="killed after ${PASS_TIMEOUT}s"
    echo "$FUZZ_NAME: pass $pass: ${result:-no summary} (exit $rc, $((SECONDS - started)) s, $OUT/$pass.txt)" >&2
    return "$rc"
}

# Runs every pass of $PASSES: `role` (the main pass, every check with the
# right credentials) alone, then the others (which the service mostly
# refuses) side by side. Exits 1 if any found a failure.
fuzz_passes() {
    mkdir -p "$OUT"
    OUT=$(cd "$OUT" && pwd)
    local failed=0 pass pid
    for pass in $PASSES; do
        [ "$pass" = role ] || continue
        fuzz_pass role || failed=1
    done
    local pids=()
    for pass in $PASSES; do
        [ "$pass" = role ] || { fuzz_pass "$pass" & pids+=("$!"); }
    done
    for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
    if [ "$failed" != 0 ]; then
        echo "$FUZZ_NAME: failures found; the reports are in $OUT" >&2
        exit 1
    fi
    echo "$FUZZ_NAME: no failures" >&2
}
