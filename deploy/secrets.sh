#!/bin/sh
# The compose stack's `secrets` one-shot. It runs as root before every service that needs a
# password, and
# 1. refuses the demonstration passwords (deploy/secrets/*.demo, compared by content) unless the
#    stack runs the built-in simulator: LUTRON_HOST=simulator and the simulator service is up
#    (`--profile simulator`);
# 2. gives each service its own copy of the secrets it needs, owned by that service's user, mode
#    0400, in a volume only that service mounts (at /run/secrets). So the files you keep can be
#    0600 in a 0700 directory, readable by you alone (deploy/secrets/README.md), and the UI and
#    Telegraf never see the database superuser's password.
# Paths for tests: TL_SECRETS_IN (the compose secrets), TL_DEMO_DIR, TL_SECRETS_OUT (one
# directory per service: the volumes).
set -eu
IN=${TL_SECRETS_IN:-/run/secrets}
DEMO=${TL_DEMO_DIR:-/opt/telegraf-lutron/demo-secrets}
OUT=${TL_SECRETS_OUT:-/out}

fail() {
    echo "E! $*" >&2
    exit 1
}

# The variable in .env that names each secret's file (compose.yaml, `secrets:`).
variable() {
    case $1 in
    lutron_password) echo LUTRON_PASSWORD_FILE ;;
    db_password) echo TL_DB_PASSWORD_FILE ;;
    db_ui_password) echo TL_DB_UI_PASSWORD_FILE ;;
    db_telegraf_password) echo TL_DB_TELEGRAF_PASSWORD_FILE ;;
    grafana_admin_password) echo GRAFANA_ADMIN_PASSWORD_FILE ;;
    esac
}

simulator_profile() {
    [ "${LUTRON_HOST:-}" = simulator ] || return 1
    # The simulator service starts first when its profile is on (depends_on, required: false);
    # give its name a few seconds to appear in the compose network's DNS.
    tries=0
    until getent hosts simulator >/dev/null 2>&1; do
        tries=$((tries + 1))
        [ "$tries" -lt 10 ] || return 1
        sleep 1
    done
}

SECRETS="lutron_password db_password db_ui_password db_telegraf_password grafana_admin_password"
demo_used=""
for name in $SECRETS; do
    [ -r "$IN/$name" ] || fail "secret $name is missing or unreadable; set $(variable "$name") in .env to its file (deploy/secrets/README.md)"
    value=$(cat "$IN/$name") # trailing newlines dropped, as every reader does
    [ -n "$value" ] || fail "secret $name is empty; put the password in the file $(variable "$name") names"
    if [ -r "$DEMO/$name.demo" ] && [ "$value" = "$(cat "$DEMO/$name.demo")" ]; then
        demo_used="$demo_used $name"
    fi
done
unset value
if [ -n "$demo_used" ] && ! simulator_profile; then
    first=${demo_used# }
    first=${first%% *}
    fail "secret $first (and any other listed here:$demo_used) is a demonstration password from deploy/secrets/*.demo, which only the simulator profile may use; set $(variable "$first") in .env to a file of your own (deploy/secrets/README.md)"
fi

# give SERVICE UID:GID SECRET...: the service's volume holds exactly these, readable by it alone.
give() {
    dir=$OUT/$1
    owner=$2
    shift 2
    [ -d "$dir" ] || fail "no volume mounted at $dir"
    find "$dir" -mindepth 1 -delete
    for name in "$@"; do
        tmp=$dir/.$name.tmp
        (umask 077 && cat "$IN/$name" >"$tmp")
        if [ "$(id -u)" = 0 ]; then
            chown "$owner" "$tmp"
        fi
        chmod 0400 "$tmp"
        mv -f "$tmp" "$dir/$name"
    done
    chmod 0755 "$dir"
}

# postgres reads its file as root before dropping to uid 999; Grafana runs as 472:0; the plugin
# and web UI images as 10001.
give postgres 999:999 db_password
give db-init 10001:10001 db_password db_ui_password db_telegraf_password
give telegraf 10001:10001 lutron_password db_telegraf_password
give webui 10001:10001 db_ui_password
give grafana 472:0 grafana_admin_password
echo "I! secrets handed to postgres, db-init, telegraf, webui and grafana${demo_used:+ (demonstration passwords: simulator profile)}"
