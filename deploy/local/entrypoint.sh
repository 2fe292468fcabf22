#!/bin/sh
# `postgres`: as the official image, a first start makes the cluster from POSTGRES_USER,
# POSTGRES_PASSWORD and POSTGRES_DB. Anything else runs as given.
set -eu
if [ "${1:-}" = postgres ]; then
  PGDATA=/var/lib/postgresql/data
  chown postgres:postgres "$PGDATA"
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    pw=$(mktemp); printf '%s\n' "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}" > "$pw"; chown postgres "$pw"
    runuser -u postgres -- initdb -D "$PGDATA" -U "${POSTGRES_USER:-postgres}" --pwfile="$pw" --auth=scram-sha-256 >/dev/null
    rm -f "$pw"
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"
    db=${POSTGRES_DB:-${POSTGRES_USER:-postgres}}
    if [ "$db" != postgres ]; then
      echo "CREATE DATABASE \"$db\" OWNER \"${POSTGRES_USER:-postgres}\";" |
        runuser -u postgres -- postgres --single -D "$PGDATA" postgres >/dev/null
    fi
  fi
  shift
  exec runuser -u postgres -- postgres -D "$PGDATA" "$@"
fi
exec "$@"
