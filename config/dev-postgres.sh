#!/usr/bin/env bash
# Makes a local PostgreSQL ready for brandpulse development, demos and tests:
# installs it if missing (Debian/Ubuntu), starts it if down, and creates the
# role `brandpulse` (password `brandpulse`, may create databases) and the
# database `brandpulse`. Safe to run again. Not for production: see README.md.
set -euo pipefail

PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
ROLE=brandpulse
ROLE_PASSWORD=brandpulse
DATABASE=brandpulse

apt_updated=
apt_install() {
    if [ "$(id -u)" != 0 ]; then
        echo "PostgreSQL is not installed; install it (apt-get install postgresql) or run this as root" >&2
        exit 1
    fi
    if [ -z "$apt_updated" ]; then apt-get update -qq; apt_updated=1; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

if ! ls /etc/postgresql/*/main >/dev/null 2>&1 && ! command -v pg_isready >/dev/null; then
    apt_install postgresql postgresql-client
fi
command -v psql >/dev/null || apt_install postgresql-client

if ! pg_isready -q -h "$PGHOST" -p "$PGPORT"; then
    echo "starting PostgreSQL"
    for version in $(ls /etc/postgresql 2>/dev/null); do
        pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    done
    for _ in $(seq 1 30); do
        pg_isready -q -h "$PGHOST" -p "$PGPORT" && break
        sleep 1
    done
fi
pg_isready -h "$PGHOST" -p "$PGPORT" >/dev/null || {
    echo "PostgreSQL does not answer on $PGHOST:$PGPORT" >&2
    exit 1
}

# Superuser SQL: over TCP as postgres when trust auth allows it, else as the
# postgres OS user over the local socket (peer auth).
as_superuser() {
    if psql -h "$PGHOST" -p "$PGPORT" -U postgres -d postgres -w -tAc 'SELECT 1' >/dev/null 2>&1; then
        psql -h "$PGHOST" -p "$PGPORT" -U postgres -d postgres -w -v ON_ERROR_STOP=1 -tAq "$@"
    elif [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- psql -p "$PGPORT" -d postgres -v ON_ERROR_STOP=1 -tAq "$@"
    else
        sudo -u postgres psql -p "$PGPORT" -d postgres -v ON_ERROR_STOP=1 -tAq "$@"
    fi
}
as_superuser -c "DO \$\$BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE') THEN
        CREATE ROLE $ROLE LOGIN CREATEDB PASSWORD '$ROLE_PASSWORD';
    ELSE
        ALTER ROLE $ROLE LOGIN CREATEDB PASSWORD '$ROLE_PASSWORD';
    END IF;
END\$\$;"
if [ "$(as_superuser -c "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'")" != 1 ]; then
    as_superuser -c "CREATE DATABASE $DATABASE OWNER $ROLE"
fi
PGPASSWORD=$ROLE_PASSWORD psql -h "$PGHOST" -p "$PGPORT" -U "$ROLE" -d "$DATABASE" -w -tAc 'SELECT 1' >/dev/null
echo "PostgreSQL ready: postgres://$ROLE:$ROLE_PASSWORD@$PGHOST:$PGPORT/$DATABASE"
