#!/bin/sh
# Entrypoint of both images: PGPASSWORD_FILE (a Docker/compose secret) becomes PGPASSWORD, which
# libpq, psycopg and Telegraf's outputs.postgresql read; then the command replaces this shell.
# $(cat) drops trailing newlines exactly as the postgres image does with POSTGRES_PASSWORD_FILE,
# so one secret file with or without a final newline gives both sides the same password.
set -eu
if [ -n "${PGPASSWORD_FILE:-}" ]; then
    if [ ! -r "$PGPASSWORD_FILE" ]; then
        echo "E! PGPASSWORD_FILE=$PGPASSWORD_FILE is missing or not readable by user $(id -u)" >&2
        exit 1
    fi
    PGPASSWORD=$(cat "$PGPASSWORD_FILE")
    export PGPASSWORD
    unset PGPASSWORD_FILE
fi
exec "$@"
