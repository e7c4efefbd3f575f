#!/usr/bin/env bash
# Makes the test servers available on a Debian machine: Postgres (trust auth on
# loopback, database `test`) and Redis on their standard local ports. Starts
# them if installed but stopped; installs them from Debian's packages if absent.
# Also installs Prometheus (Debian's package): the telemetry test starts its own
# instance on loopback, configured to scrape the example service it runs.
# Also installs chromium (Debian's package) for the dashboard's browser test.
# Idempotent and quiet when everything already runs. Set JOBSHARD_SKIP_SERVERS=1
# to skip (e.g. when JOBSHARD_TEST_PG / JOBSHARD_TEST_REDIS point elsewhere).
set -euo pipefail
[ "${JOBSHARD_SKIP_SERVERS:-0}" = 1 ] && exit 0

log() { echo "test-servers: $*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else log "need root for: $*"; return 1; fi; }
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi; }
apt_updated=0
apt_install() {
  if [ $apt_updated = 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
wait_for() { # wait_for <what> <command...>
  local what=$1; shift
  for _ in $(seq 1 60); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
  log "$what did not come up"; return 1
}

pg_ok() { pg_isready -q -h 127.0.0.1 -p 5432; }
if ! command -v pg_ctlcluster >/dev/null || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
  log "installing postgresql from Debian's packages"
  apt_install postgresql postgresql-client
fi
if ! pg_ok; then
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  log "starting postgresql $version"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  wait_for postgresql pg_ok
fi
if ! psql -h 127.0.0.1 -U postgres -d postgres -Atqc 'select 1' >/dev/null 2>&1; then
  log "allowing trust auth on loopback"
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  hba=/etc/postgresql/$version/main/pg_hba.conf
  as_root sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
  as_postgres psql -qc 'select pg_reload_conf()' >/dev/null
  wait_for "postgresql trust auth" psql -h 127.0.0.1 -U postgres -d postgres -Atqc 'select 1'
fi
if [ "$(psql -h 127.0.0.1 -U postgres -d postgres -Atqc "select 1 from pg_database where datname = 'test'")" != 1 ]; then
  log "creating database test"
  psql -h 127.0.0.1 -U postgres -d postgres -qc 'create database test'
fi

redis_ok() { redis-cli -h 127.0.0.1 -p 6379 ping | grep -q PONG; }
if ! command -v redis-server >/dev/null; then
  log "installing redis from Debian's packages"
  apt_install redis-server
fi
if ! redis_ok 2>/dev/null; then
  log "starting redis"
  as_root mkdir -p /var/lib/redis /var/log/redis
  as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/jobshard-test.log
  wait_for redis redis_ok
fi

if ! command -v prometheus >/dev/null; then
  log "installing prometheus from Debian's packages"
  apt_install prometheus
  # The package's service is not wanted: tests run their own instance with their own config.
  as_root pkill -x prometheus 2>/dev/null || true
fi

if ! command -v chromium >/dev/null; then
  # The dashboard's browser test drives Debian's chromium through playwright-core (no browser download).
  log "installing chromium from Debian's packages"
  apt_install chromium
fi
