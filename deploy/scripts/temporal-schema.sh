#!/bin/sh
# Creates (or upgrades) Temporal's PostgreSQL schemas: the default store and
# the visibility store. Runs in temporalio/admin-tools before the server
# starts; every command is safe to repeat.
set -eu
: "${POSTGRES_SEEDS:?}" "${POSTGRES_USER:?}" "${SQL_PASSWORD:?}"
DB_PORT="${DB_PORT:-5432}"
SCHEMA=/etc/temporal/schema/postgresql/v12

until nc -z -w 5 "$POSTGRES_SEEDS" "$DB_PORT"; do echo "waiting for PostgreSQL"; sleep 2; done

for db in temporal temporal_visibility; do
  dir=temporal
  [ "$db" = temporal_visibility ] && dir=visibility
  sql() { temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$DB_PORT" -u "$POSTGRES_USER" --db "$db" "$@"; }
  sql create || true            # exists already on a re-run
  sql setup-schema -v 0.0 || true
  sql update-schema -d "$SCHEMA/$dir/versioned"
done
echo "Temporal schemas are up to date"
