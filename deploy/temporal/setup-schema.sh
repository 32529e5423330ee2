#!/bin/sh
# Temporal's persistence schema, set up as its own step before the server starts, the way Temporal
# documents a self-hosted SQL deployment (temporal-sql-tool from temporalio/admin-tools; not the
# dev-only auto-setup image). Every step is idempotent, so this runs on every `docker compose up`:
#   create         creates the database only if it does not exist;
#   setup-schema   creates the version tables; skips when the schema is already past 0.0;
#   update-schema  applies only the versions newer than the database's (an image upgrade migrates).
# Connects as the `temporal` role (deploy/postgres/roles.sh), password in SQL_PASSWORD.
set -eu
: "${POSTGRES_SEEDS:?POSTGRES_SEEDS is required}"
: "${SQL_USER:?SQL_USER is required}"
: "${SQL_PASSWORD:?SQL_PASSWORD is required}"
PORT="${DB_PORT:-5432}"
SCHEMA_DIR="${TEMPORAL_HOME:-/etc/temporal}/schema/postgresql/v12"

sql() {
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$PORT" -u "$SQL_USER" "$@"
}

for db in temporal temporal_visibility; do
  case "$db" in
    temporal) dir="$SCHEMA_DIR/temporal/versioned" ;;
    *) dir="$SCHEMA_DIR/visibility/versioned" ;;
  esac
  echo "schema: $db"
  sql --db "$db" create
  sql --db "$db" setup-schema -v 0.0
  sql --db "$db" update-schema -d "$dir"
done
echo "schema: done"
