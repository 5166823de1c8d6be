#!/usr/bin/env bash
# Roles, database and schemas of Syllabus: the same statements as `pg_bootstrap` in
# scripts/stack.sh (scripts/check-compose.sh compares the two).
#
# The postgres image runs it once, on an empty data directory, from /docker-entrypoint-initdb.d
# (as POSTGRES_USER, over the local socket). It is idempotent: to apply changed passwords from
# compose/.env to an existing volume, run it again:
#   docker compose -f compose/docker-compose.yml exec postgres /docker-entrypoint-initdb.d/10-syllabus.sh
#
#   init.sh --print-sql   print the SQL instead of running it (no database needed)
#
# Passwords come from the environment: ADMIN_DB_PASSWORD, and for each service <S>_DB_PASSWORD
# (its runtime role) and <S>_OWNER_DB_PASSWORD (the schema owner, for migrations). They go into
# SQL literals and connection URLs, so only letters, digits and . _ ~ - are accepted.
#
# Everything runs in subshells, so the script behaves the same whether the image's entrypoint
# executes it or sources it.

syllabus_services() { echo identity billing content progress notifications analytics webhooks; }

syllabus_check_passwords() {
    local s S var bad=0
    local vars=(ADMIN_DB_PASSWORD)
    for s in $(syllabus_services); do
        S=${s^^}
        vars+=("${S}_DB_PASSWORD" "${S}_OWNER_DB_PASSWORD")
    done
    for var in "${vars[@]}"; do
        if [[ -z "${!var:-}" ]]; then
            echo "syllabus init: $var is not set" >&2
            bad=1
        elif [[ ! "${!var}" =~ ^[A-Za-z0-9._~-]+$ ]]; then
            echo "syllabus init: $var may hold only letters, digits and . _ ~ -" >&2
            bad=1
        fi
    done
    return $bad
}

syllabus_bootstrap_sql() {
    local s S
    cat <<SQL
DO \$\$BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'syllabus_admin') THEN
    CREATE ROLE syllabus_admin;
  END IF;
END\$\$;
ALTER ROLE syllabus_admin WITH LOGIN SUPERUSER PASSWORD '$ADMIN_DB_PASSWORD';
SQL
    for s in $(syllabus_services); do
        S=${s^^}
        local owner_pw_var="${S}_OWNER_DB_PASSWORD" pw_var="${S}_DB_PASSWORD"
        cat <<SQL
DO \$\$BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${s}_owner') THEN CREATE ROLE ${s}_owner; END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${s}') THEN CREATE ROLE ${s}; END IF;
END\$\$;
ALTER ROLE ${s}_owner WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD '${!owner_pw_var}';
ALTER ROLE ${s} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD '${!pw_var}';
ALTER ROLE ${s}_owner SET search_path = ${s};
ALTER ROLE ${s} SET search_path = ${s};
SQL
    done
    cat <<'SQL'
SELECT 'CREATE DATABASE syllabus OWNER syllabus_admin'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'syllabus') \gexec
REVOKE ALL ON DATABASE syllabus FROM PUBLIC;
SQL
    for s in $(syllabus_services); do
        echo "GRANT CONNECT ON DATABASE syllabus TO ${s}_owner, ${s};"
    done
    echo '\connect syllabus'
    echo 'REVOKE ALL ON SCHEMA public FROM PUBLIC;'
    for s in $(syllabus_services); do
        cat <<SQL
CREATE SCHEMA IF NOT EXISTS ${s} AUTHORIZATION ${s}_owner;
ALTER SCHEMA ${s} OWNER TO ${s}_owner;
REVOKE ALL ON SCHEMA ${s} FROM PUBLIC;
GRANT USAGE ON SCHEMA ${s} TO ${s};
ALTER DEFAULT PRIVILEGES FOR ROLE ${s}_owner REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
ALTER DEFAULT PRIVILEGES FOR ROLE ${s}_owner IN SCHEMA ${s} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${s};
ALTER DEFAULT PRIVILEGES FOR ROLE ${s}_owner IN SCHEMA ${s} GRANT USAGE, SELECT ON SEQUENCES TO ${s};
ALTER DEFAULT PRIVILEGES FOR ROLE ${s}_owner IN SCHEMA ${s} GRANT EXECUTE ON FUNCTIONS TO ${s};
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${s} TO ${s};
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA ${s} TO ${s};
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA ${s} TO ${s};
SQL
    done
}

if [[ "${1:-}" == --print-sql ]]; then
    (set -euo pipefail && syllabus_check_passwords && syllabus_bootstrap_sql)
else
    (
        set -euo pipefail
        syllabus_check_passwords
        # The image's init phase: a server on the local socket only, POSTGRES_USER a superuser.
        syllabus_bootstrap_sql |
            psql -X -q -v ON_ERROR_STOP=1 --no-password --username "${POSTGRES_USER:-postgres}" --dbname postgres
        echo "syllabus init: roles, database syllabus and schemas ready"
    )
fi
