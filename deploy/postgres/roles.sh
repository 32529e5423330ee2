#!/bin/sh
# The compose deployment's roles step (service `postgres-roles`), run as the Postgres superuser at
# every `docker compose up`, against a new or an existing volume. Idempotent: it creates what is
# missing and sets the passwords to what .env holds now (so changing one in .env and running
# `docker compose up` again changes it). Two least-privilege login roles, one per tenant:
#   - temporal: Temporal's store. CREATEDB so temporal-sql-tool can create its two databases
#     (temporal, temporal_visibility); no superuser.
#   - btcbot:   the worker and the CLI. Owns the `btcbot` database (and so its public schema, where
#     migrations create the tables), nothing else: no superuser, no CREATEDB, no CREATEROLE.
# Nobody else may connect to the btcbot database. Passwords come from the environment and are
# passed to psql as variables (quoted by psql, never interpolated into SQL text by the shell).
# Connection: the libpq variables PGHOST, PGPORT, PGUSER (a superuser), PGPASSWORD, PGDATABASE.
set -eu
: "${BTCBOT_DB_PASSWORD:?BTCBOT_DB_PASSWORD is required}"
: "${TEMPORAL_DB_PASSWORD:?TEMPORAL_DB_PASSWORD is required}"
BTCBOT_DB_USER="${BTCBOT_DB_USER:-btcbot}"
BTCBOT_DB_NAME="${BTCBOT_DB_NAME:-btcbot}"
TEMPORAL_DB_USER="${TEMPORAL_DB_USER:-temporal}"
export PGDATABASE="${PGDATABASE:-postgres}"

sql() {
  psql -X -q -v ON_ERROR_STOP=1 -v btcbot_user="$BTCBOT_DB_USER" -v btcbot_db="$BTCBOT_DB_NAME" -v temporal_user="$TEMPORAL_DB_USER" "$@"
}

# The compose file before the roles split ran everything as one superuser named btcbot. Demoting it
# here could lock the operator out of their own data: stop, and say how to move it instead.
app_is_superuser="$(sql -tA <<'SQL'
SELECT coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = :'btcbot_user'), false);
SQL
)"
if [ "$app_is_superuser" = "t" ]; then
  echo "roles: role $BTCBOT_DB_USER is a superuser: this volume comes from the earlier single-role compose file." >&2
  echo "roles: nothing was changed. Move its data to the new layout: README, \"Upgrading an existing compose deployment\"." >&2
  exit 1
fi

sql -v btcbot_pw="$BTCBOT_DB_PASSWORD" -v temporal_pw="$TEMPORAL_DB_PASSWORD" <<'SQL'
SELECT format('CREATE ROLE %I', :'temporal_user') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'temporal_user') \gexec
ALTER ROLE :"temporal_user" LOGIN CREATEDB NOSUPERUSER NOCREATEROLE PASSWORD :'temporal_pw';
SELECT format('CREATE ROLE %I', :'btcbot_user') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'btcbot_user') \gexec
ALTER ROLE :"btcbot_user" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'btcbot_pw';
SELECT format('CREATE DATABASE %I OWNER %I', :'btcbot_db', :'btcbot_user') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'btcbot_db') \gexec
ALTER DATABASE :"btcbot_db" OWNER TO :"btcbot_user";
REVOKE ALL ON DATABASE :"btcbot_db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"btcbot_db" TO :"btcbot_user";
SQL
echo "roles: $BTCBOT_DB_USER (owns database $BTCBOT_DB_NAME) and $TEMPORAL_DB_USER are in place"
