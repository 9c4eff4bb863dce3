# Sourced by scripts/test.sh: makes a PostgreSQL server reachable and sets TL_TEST_DSN.
# Order: an explicit TL_TEST_DSN; else a throwaway cluster on a free port, made for the tests and
# stopped at exit (installing Debian's postgresql if its programs are missing); else, where no
# cluster can be made, a server on 127.0.0.1:5432 or the machine's stopped cluster (pg_ctlcluster).
#
# The throwaway cluster runs without fsync, full-page writes or synchronous commit: nothing in it
# has to survive a crash, and every DROP DATABASE forces a checkpoint, which then costs no disk
# flush. It is also the tests' own: other users of the machine's server neither slow it down nor
# see its databases.

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

throwaway_postgres() {
    local bindir port dir owner
    bindir=$(pg_bindir) || { apt_install postgresql && bindir=$(pg_bindir); } || return 1
    port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    dir=$(mktemp -d /tmp/tl-pg.XXXXXX)
    owner=$(id -un)
    # initdb refuses to run as root: the cluster belongs to the postgres user then.
    if [ "$(id -u)" = 0 ]; then owner=postgres; id postgres >/dev/null 2>&1 || useradd -r postgres; chown "$owner" "$dir"; fi
    local as=""  # how to run the cluster's programs as its owner (also from the exit trap)
    [ "$owner" = "$(id -un)" ] || as="runuser -u $owner --"
    say "starting a throwaway PostgreSQL cluster for the tests in $dir on port $port"
    $as "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null ||
        { rm -rf "$dir"; return 1; }
    # shellcheck disable=SC2064
    trap "$as '$bindir/pg_ctl' -D '$dir/data' -m fast stop >/dev/null 2>&1 || true; rm -rf '$dir'" EXIT
    $as "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o "-c listen_addresses=127.0.0.1 -c port=$port \
        -c unix_socket_directories=$dir -c fsync=off -c full_page_writes=off -c synchronous_commit=off" \
        start >/dev/null || return 1
    TL_TEST_DSN="host=127.0.0.1 port=$port user=postgres dbname=postgres"
}

ensure_postgres() {
    if [ -n "${TL_TEST_DSN:-}" ]; then return 0; fi
    if throwaway_postgres && pg_ok "$TL_TEST_DSN"; then return 0; fi
    say "no throwaway cluster: using the machine's PostgreSQL server"
    local dsn="host=127.0.0.1 port=5432 user=postgres dbname=postgres"
    TL_TEST_DSN=$dsn
    if pg_ok "$dsn"; then return 0; fi
    if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ] && [ "$(id -u)" = 0 ]; then
        local v
        for v in /etc/postgresql/*; do
            pg_ctlcluster --skip-systemctl-redirect "$(basename "$v")" main start >/dev/null 2>&1 || true
        done
        for _ in $(seq 1 20); do pg_ok "$dsn" && return 0; sleep 0.5; done
    fi
    return 0  # test.sh checks the server and stops with a message when it does not answer
}
