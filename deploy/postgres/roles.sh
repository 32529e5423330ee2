#!/bin/sh
# Runs once, when the Postgres volume is first initialised (docker-entrypoint-initdb.d), as the
# superuser. Two least-privilege login roles, one per tenant of this server:
#   - temporal: Temporal's store. CREATEDB so temporal-sql-tool can create its two databases
#     (temporal, temporal_visibility); no superuser.
#   - btcbot:   the worker and the CLI. Owns the `btcbot` database (and so its public schema, where
#     migrations create the tables), nothing else: no superuser, no CREATEDB, no CREATEROLE.
# Nobody else may connect to the btcbot database. Passwords come from the environment, are passed
# to psql as variables (quoted by psql, never interpolated into SQL text by the shell).
# Changing a password later: ALTER ROLE ... PASSWORD ... as the superuser (this script does not run again).
set -eu
: "${BTCBOT_DB_PASSWORD:?BTCBOT_DB_PASSWORD is required}"
: "${TEMPORAL_DB_PASSWORD:?TEMPORAL_DB_PASSWORD is required}"
BTCBOT_DB_USER="${BTCBOT_DB_USER:-btcbot}"
BTCBOT_DB_NAME="${BTCBOT_DB_NAME:-btcbot}"
TEMPORAL_DB_USER="${TEMPORAL_DB_USER:-temporal}"

psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
  -v btcbot_user="$BTCBOT_DB_USER" -v btcbot_db="$BTCBOT_DB_NAME" -v btcbot_pw="$BTCBOT_DB_PASSWORD" \
  -v temporal_user="$TEMPORAL_DB_USER" -v temporal_pw="$TEMPORAL_DB_PASSWORD" <<'SQL'
CREATE ROLE :"temporal_user" LOGIN CREATEDB NOSUPERUSER NOCREATEROLE PASSWORD :'temporal_pw';
CREATE ROLE :"btcbot_user" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'btcbot_pw';
CREATE DATABASE :"btcbot_db" OWNER :"btcbot_user";
REVOKE ALL ON DATABASE :"btcbot_db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"btcbot_db" TO :"btcbot_user";
SQL
