#!/usr/bin/env bash
# A PostgreSQL server for the storage and service tests: prints its URL on stdout.
#
# Uses $SKYSEP_TEST_POSTGRES (default: the local server, postgres@127.0.0.1:5432)
# when it answers. Otherwise starts a private server from Debian's packages
# (installing them with apt-get when they are missing) in .cache/postgres on
# port 54329, trusting local connections, and prints that URL. Exits non-zero,
# with the reason on stderr, when neither is possible.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
URL=${SKYSEP_TEST_POSTGRES:-postgresql://postgres@127.0.0.1:5432/postgres}
PORT=54329
DATA=$PWD/.cache/postgres
PRIVATE=postgresql://postgres@127.0.0.1:$PORT/postgres

answers() {
  "$PY" -c 'import sys, psycopg; psycopg.connect(sys.argv[1], connect_timeout=3).close()' "$1" \
    >/dev/null 2>&1
}

if answers "$URL"; then echo "$URL"; exit 0; fi
if answers "$PRIVATE"; then echo "$PRIVATE"; exit 0; fi

echo "postgres.sh: no PostgreSQL at $URL; starting a private one on port $PORT" >&2
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bindir" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "postgres.sh: PostgreSQL is not installed and installing it needs root (apt-get install postgresql)" >&2
    exit 1
  fi
  echo "postgres.sh: installing Debian's postgresql package" >&2
  apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >&2
  bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi

# PostgreSQL refuses to run as root: as root, run it as the postgres user.
as_owner=()
if [ "$(id -u)" = 0 ]; then as_owner=(runuser -u postgres --); fi
mkdir -p "$DATA"
if [ "$(id -u)" = 0 ]; then chown postgres "$DATA"; fi
if [ ! -s "$DATA/PG_VERSION" ]; then
  "${as_owner[@]}" "$bindir/initdb" -D "$DATA" -A trust -U postgres >&2
fi
"${as_owner[@]}" "$bindir/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w \
  -o "-p $PORT -k $DATA -c listen_addresses=127.0.0.1" start >&2
if answers "$PRIVATE"; then echo "$PRIVATE"; exit 0; fi
echo "postgres.sh: the private server did not answer; see $DATA/server.log" >&2
exit 1
