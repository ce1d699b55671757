#!/usr/bin/env bash
# Installs what `make cluster` and the cluster test need from Debian's packages: PostgreSQL, Redis, nginx.
# Idempotent: a package already installed is left alone, and nothing is fetched when all are present.
# Debian's packages would start their own system-wide services on install; a policy-rc.d that says
# "don't" is put in place for the install (and removed again if it was not there before). The cluster
# runs its own instances, on loopback, from its own data directory.
set -euo pipefail

missing=()
command -v pg_ctlcluster >/dev/null 2>&1 && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        exec sudo -n "$0" "$@"
    fi
    echo "cluster-deps: missing ${missing[*]}; run as root: apt-get install ${missing[*]}" >&2
    exit 1
fi

echo "cluster-deps: installing ${missing[*]} from Debian's packages ..." >&2
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod 755 "$policy"
    trap 'rm -f "$policy"' EXIT
fi
export DEBIAN_FRONTEND=noninteractive
# Another apt run (someone else's install) may hold the lock: wait for it rather than fail.
apt=(apt-get -o DPkg::Lock::Timeout=900 -y -qq)
"${apt[@]}" install --no-install-recommends "${missing[@]}" >/dev/null \
    || { "${apt[@]}" update >/dev/null && "${apt[@]}" install --no-install-recommends "${missing[@]}" >/dev/null; }
echo "cluster-deps: installed ${missing[*]}" >&2
