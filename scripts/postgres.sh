# Sourced by scripts/test.sh: makes a PostgreSQL server reachable and sets TL_TEST_DSN.
# Order: an explicit TL_TEST_DSN; a server on 127.0.0.1:5432; the machine's stopped cluster
# (pg_ctlcluster); finally a throwaway cluster (initdb + pg_ctl) on a free port, stopped at exit.

pg_ok() { .venv/bin/python - "$1" <<'PY' >/dev/null 2>&1
import sys, psycopg
psycopg.connect(sys.argv[1], connect_timeout=3).close()
PY
}

pg_bindir() {
    local d
    for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && { echo "$d"; return 0; }; done
    return 1
}

ensure_postgres() {
    if [ -n "${TL_TEST_DSN:-}" ] && pg_ok "$TL_TEST_DSN"; then return 0; fi
    local dsn="host=127.0.0.1 port=5432 user=postgres dbname=postgres"
    if pg_ok "$dsn"; then TL_TEST_DSN=$dsn; return 0; fi
    if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ] && [ "$(id -u)" = 0 ]; then
        local v
        for v in /etc/postgresql/*; do
            pg_ctlcluster --skip-systemctl-redirect "$(basename "$v")" main start >/dev/null 2>&1 || true
        done
        for _ in $(seq 1 20); do pg_ok "$dsn" && { TL_TEST_DSN=$dsn; return 0; }; sleep 0.5; done
    fi
    # A throwaway cluster owned by an unprivileged user (initdb refuses to run as root).
    local bindir
    bindir=$(pg_bindir) || { apt_install postgresql; bindir=$(pg_bindir); }
    local port dir owner
    port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    dir=$(mktemp -d /tmp/tl-pg.XXXXXX)
    owner=$(id -un)
    if [ "$(id -u)" = 0 ]; then owner=postgres; id postgres >/dev/null 2>&1 || useradd -r postgres; chown "$owner" "$dir"; fi
    run_as() { if [ "$owner" = "$(id -un)" ]; then "$@"; else runuser -u "$owner" -- "$@"; fi; }
    say "starting a throwaway PostgreSQL cluster in $dir on port $port"
    run_as "$bindir/initdb" -D "$dir/data" -U postgres -A trust >/dev/null
    run_as "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
        -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir" start >/dev/null
    # shellcheck disable=SC2064
    trap "run_as '$bindir/pg_ctl' -D '$dir/data' -m fast stop >/dev/null 2>&1; rm -rf '$dir'" EXIT
    TL_TEST_DSN="host=127.0.0.1 port=$port user=postgres dbname=postgres"
}
