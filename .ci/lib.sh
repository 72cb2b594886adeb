# Shared helpers for .ci/test and .ci/main. Source it; do not run it.
set -euo pipefail

HERALD_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
APT_UPDATED=""

# ensure_command CMD DEBIAN_PACKAGE: install the package when CMD is missing.
ensure_command() {
    command -v "$1" >/dev/null 2>&1 || ensure_apt "$2"
}

# ensure_apt PACKAGE...: install Debian packages that are not installed yet.
ensure_apt() {
    local missing=()
    for package in "$@"; do
        dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "herald: missing Debian packages: ${missing[*]}" >&2
        echo "herald: run: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
        exit 2
    fi
    if [ -z "$APT_UPDATED" ]; then
        echo "herald: apt-get update" >&2
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        APT_UPDATED=1
    fi
    echo "herald: apt-get install -y ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# ensure_swift: the Swift toolchain must be on PATH (it is not a Debian package).
ensure_swift() {
    if ! command -v swift >/dev/null 2>&1; then
        if [ -x /opt/swift/usr/bin/swift ]; then
            export PATH="/opt/swift/usr/bin:$PATH"
        else
            echo "herald: Swift 6 is required; install it from swift.org and put swift on PATH" >&2
            exit 2
        fi
    fi
}

# ensure_venv: the Python tools of .ci/requirements.txt (pinned) in a virtual environment at
# .build/python, never the system Python; installed again only when the requirements change.
# Puts .build/python/bin first on PATH, so `python3` (and the tests' `env python3`) is that one.
ensure_venv() {
    local venv="$HERALD_ROOT/.build/python" wanted="$HERALD_ROOT/.ci/requirements.txt"
    ensure_command python3 python3
    python3 -c "import venv, ensurepip" >/dev/null 2>&1 || ensure_apt python3-venv
    [ -x "$venv/bin/python3" ] || python3 -m venv "$venv"
    if ! cmp -s "$wanted" "$venv/requirements.txt"; then
        echo "herald: pip install -r .ci/requirements.txt into .build/python" >&2
        "$venv/bin/python3" -m pip install --quiet --disable-pip-version-check -r "$wanted" \
            || { echo "herald: could not install .ci/requirements.txt into .build/python" >&2; exit 2; }
        cp "$wanted" "$venv/requirements.txt"
    fi
    export PATH="$venv/bin:$PATH"
}

# ensure_pip MODULE PACKAGE: a PyPI package for a benchmark (not the tests), in .build/python too.
ensure_pip() {
    ensure_venv
    python3 -c "import $1" >/dev/null 2>&1 && return 0
    echo "herald: pip install $2 into .build/python" >&2
    python3 -m pip install --quiet --disable-pip-version-check "$2" \
        || { echo "herald: could not install $2" >&2; exit 2; }
}

# phase NAME COMMAND...: runs COMMAND and prints how long the phase took.
phase() {
    local name="$1" start status=0
    shift
    start=$(date +%s)
    echo "== phase: $name" >&2
    "$@" || status=$?
    echo "== phase: $name: $(( $(date +%s) - start )) s$([ $status -ne 0 ] && echo ", failed (exit $status)")" >&2
    return $status
}

# release_herald: builds the release binary (benchmarks measure it) and sets HERALD to it.
release_herald() {
    swift build -c release --product herald >&2
    HERALD="$(swift build -c release --show-bin-path)/herald"
}

# site_batch WORKSPACE ROWS USERS: an order_shipped site template and a batch of ROWS site
# messages spread over USERS users of tenant 0, dropped in WORKSPACE's inbox (the inbox and
# serve benchmarks).
site_batch() {
    mkdir -p "$1/templates" "$1/recipients/inbox"
    printf 'site: {nickname: 商城助手, content: "{name}，您的订单 {orderId} 已发货"}\n' > "$1/templates/order_shipped.yaml"
    python3 - "$1/recipients/inbox/order_shipped.bench.csv" "$2" "$3" <<'PY'
import sys
path, rows, users = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(path, "w", encoding="utf-8") as f:
    f.write("user_id,tenant_id,name,orderId\n")
    for i in range(rows):
        f.write(f"{i % users},0,李雷,A{i:08d}\n")
PY
}

# timed_run ROWS LOG COMMAND...: runs COMMAND (output to LOG) under /usr/bin/time and sets
# RUN_SECONDS, RUN_ROWS_PER_S and RUN_RSS_MB; prints LOG and fails when COMMAND fails.
timed_run() {
    local rows="$1" log="$2" rss start end
    shift 2
    rss="$(mktemp)"
    start=$(date +%s.%N)
    /usr/bin/time -f "%M" -o "$rss" "$@" > "$log" 2>&1 || { cat "$log"; rm -f "$rss"; return 1; }
    end=$(date +%s.%N)
    RUN_SECONDS=$(python3 -c "print(f'{$end - $start:.2f}')")
    RUN_ROWS_PER_S=$(python3 -c "print(int($rows / ($end - $start)))")
    RUN_RSS_MB=$(python3 -c "print(f'{$(cat "$rss") / 1024:.1f}')")
    rm -f "$rss"
}

# start_smtp_sink: Postfix's smtp-sink, which accepts and discards mail as fast as it can, on a
# free 127.0.0.1 port (PORT); its pid is SINK. As root it must drop to nobody.
start_smtp_sink() {
    ensure_apt postfix
    PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    /usr/sbin/smtp-sink -u nobody "127.0.0.1:$PORT" 1024 &
    SINK=$!
    sleep 0.5
}

# start_postgres: Debian's PostgreSQL in a throwaway cluster (initdb in a temporary folder, as an
# unprivileged user, trust auth on loopback only, a free port) with a database `herald`. Sets
# HERALD_TEST_DATABASE_URL; stop_postgres (or the EXIT trap it installs) stops it and removes it.
start_postgres() {
    ensure_apt postgresql
    local bin port user
    bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
    [ -x "$bin/initdb" ] || { echo "herald: PostgreSQL's initdb not found under /usr/lib/postgresql" >&2; exit 2; }
    PG_DIR="$(mktemp -d /tmp/herald-pg.XXXXXX)"
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    PG_RUN=()
    if [ "$(id -u)" -eq 0 ]; then
        # initdb refuses root: the cluster belongs to the postgres user the package created.
        user=postgres
        chown "$user" "$PG_DIR"
        PG_RUN=(runuser -u "$user" --)
    fi
    "${PG_RUN[@]}" "$bin/initdb" -D "$PG_DIR/data" -U herald -A trust -E UTF8 --locale=C.UTF-8 >"$PG_DIR/initdb.log" 2>&1 \
        || { cat "$PG_DIR/initdb.log" >&2; exit 2; }
    "${PG_RUN[@]}" "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $PG_DIR -c max_connections=200 -c fsync=off -c synchronous_commit=off" start >/dev/null \
        || { cat "$PG_DIR/server.log" >&2; exit 2; }
    PG_BIN="$bin"
    trap stop_postgres EXIT
    "$bin/createdb" -h 127.0.0.1 -p "$port" -U herald herald
    export HERALD_TEST_DATABASE_URL="postgres://herald@127.0.0.1:$port/herald"
    # The guard test (continuousIntegrationNeverSkipsPostgreSQL) then fails a run without it, CI or not.
    export HERALD_TEST_REQUIRE_POSTGRESQL=1
    echo "herald: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (throwaway cluster in $PG_DIR)" >&2
}

stop_postgres() {
    [ -n "${PG_DIR:-}" ] || return 0
    "${PG_RUN[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
    PG_DIR=""
}
