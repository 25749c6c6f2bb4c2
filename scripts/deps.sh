#!/usr/bin/env bash
# Makes sure the tools `make test`, `make demo` and `make bench` need are on this machine: Go, the PostgreSQL 15
# server binaries, pgTAP, pg_partman (the partitioned-queue tests), pg_prove and Chromium (the dashboard's
# browser test). Installs the Debian packages that are missing when run as root; otherwise says exactly what to
# install and fails.
set -euo pipefail

PG_MAJOR=15
missing=()
[ -x "/usr/lib/postgresql/$PG_MAJOR/bin/initdb" ] || missing+=("postgresql-$PG_MAJOR")
[ -f "/usr/share/postgresql/$PG_MAJOR/extension/pgtap.control" ] || missing+=("postgresql-$PG_MAJOR-pgtap")
[ -f "/usr/share/postgresql/$PG_MAJOR/extension/pg_partman.control" ] || missing+=("postgresql-$PG_MAJOR-partman")
command -v pg_prove >/dev/null 2>&1 || missing+=("libtap-parser-sourcehandler-pgtap-perl")
# Headless Chromium for the dashboard's browser test (tests/browser), driven through chromedp.
command -v chromium >/dev/null 2>&1 || missing+=("chromium")

if ! command -v go >/dev/null 2>&1; then
  echo "deps: Go is not on PATH; install Go 1.26 (https://go.dev/doc/install) and retry." >&2
  exit 1
fi

# The pgmq-js interop test's client (tests/interop, pinned by its lockfile) from the npm registry, when node is
# here; without it that one test skips with a message, so a failure here is not fatal.
if command -v npm >/dev/null 2>&1 && [ ! -d tests/interop/node_modules ]; then
  npm ci --prefix tests/interop --no-audit --no-fund --loglevel=error >/dev/null 2>&1 \
    || echo "deps: npm ci in tests/interop failed; the pgmq-js interop test will be skipped" >&2
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing Debian packages: ${missing[*]}" >&2
  echo "deps: run as root, or install them first: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi

echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The Debian package starts a cluster of its own on 5432 on a fresh machine; the harness does not need it,
# and leaves it alone.
echo "deps: installed ${missing[*]}" >&2
