#!/usr/bin/env bash
# measure-pgtq-read.sh - cost of one pgtq.read call (qty 10) at a large backlog.
#
# Builds a scratch database (default h4_bench), migrates it with cmd/pgtq-migrate, fills three queues with
# TASKS queued tasks each (default 100000) through pgtq.enqueue_batch, then times CALLS (default 200)
# read+complete cycles per scenario with pgbench (one client, prepared statements, per-command latencies in ms):
#   plain    pgtq.read(q, 10, 300)
#   grouped  pgtq.read(q, 10, 300, grouped => true) over NGROUPS groups (default 10000)
#   glifo    pgtq.read(q, 10, 300, grouped => true, lifo => true), filled like grouped
#   limited  pgtq.read(q, 10, 300, concurrency_limit => LIMIT) (default 50)
#   delayed  pgtq.read(q, 10, 300) where the TASKS oldest tasks are delayed an hour (TASKS/10 visible ones)
# and a contended run (CLIENTS clients, default 4) of each. Afterwards it prints EXPLAIN ANALYZE of every
# statement the three reads run (auto_explain, nested statements) and drops the database.
#
# Usage: scripts/measure-pgtq-read.sh            (from the repository root or anywhere)
#        TASKS=10000 CALLS=200 KEEP=1 scripts/measure-pgtq-read.sh
# Env: PGHOST (127.0.0.1), PGPORT (5432), PGUSER (postgres), DB, TASKS, NGROUPS, CALLS, LIMIT, CLIENTS,
#      KEEP=1 keeps the database for inspection.
set -euo pipefail

cd "$(dirname "$0")/.."
export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-postgres}"
DB="${DB:-h4_bench}"
TASKS="${TASKS:-100000}"
NGROUPS="${NGROUPS:-10000}"
CALLS="${CALLS:-200}"
LIMIT="${LIMIT:-50}"
CLIENTS="${CLIENTS:-4}"
URL="postgres://${PGUSER}@${PGHOST}:${PGPORT}/${DB}"
GO="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"
WORK="$(mktemp -d)"

cleanup() {
	rm -rf "$WORK"
	if [[ "${KEEP:-0}" != 1 ]]; then
		psql -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS ${DB} WITH (FORCE)" >/dev/null
	fi
}
trap cleanup EXIT

psql -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS ${DB} WITH (FORCE)" \
	-c "CREATE DATABASE ${DB}" >/dev/null
"$GO" run ./cmd/pgtq-migrate --database-url "$URL" up >/dev/null

echo "# filling plain, grouped, glifo, limited, delayed with ${TASKS} tasks each (${NGROUPS} groups in grouped and glifo)"
psql -q -v ON_ERROR_STOP=1 -d "$DB" >/dev/null <<SQL
SELECT pgtq.create_queue('plain'), pgtq.create_queue('grouped'), pgtq.create_queue('limited');
-- Batches of 10k keep each statement's arrays small; groups are interleaved as in real traffic.
SELECT count(*) FROM generate_series(0, ${TASKS} - 1, 10000) AS b(start),
  LATERAL pgtq.enqueue_batch('plain',
      ARRAY(SELECT jsonb_build_object('i', i) FROM generate_series(b.start, least(b.start + 9999, ${TASKS} - 1)) i));
SELECT count(*) FROM generate_series(0, ${TASKS} - 1, 10000) AS b(start),
  LATERAL pgtq.enqueue_batch('grouped',
      ARRAY(SELECT jsonb_build_object('i', i) FROM generate_series(b.start, least(b.start + 9999, ${TASKS} - 1)) i),
      group_keys => ARRAY(SELECT 'g' || (i % ${NGROUPS}) FROM generate_series(b.start, least(b.start + 9999, ${TASKS} - 1)) i));
SELECT pgtq.create_queue('glifo');
SELECT count(*) FROM generate_series(0, ${TASKS} - 1, 10000) AS b(start),
  LATERAL pgtq.enqueue_batch('glifo',
      ARRAY(SELECT jsonb_build_object('i', i) FROM generate_series(b.start, least(b.start + 9999, ${TASKS} - 1)) i),
      group_keys => ARRAY(SELECT 'g' || (i % ${NGROUPS}) FROM generate_series(b.start, least(b.start + 9999, ${TASKS} - 1)) i));
-- delayed: the whole backlog is delayed by an hour and only the newest tenth is visible, so a FIFO read has to
-- get past TASKS invisible rows.
SELECT pgtq.create_queue('delayed');
SELECT count(*) FROM generate_series(0, ${TASKS} - 1, 10000) AS b(start),
  LATERAL pgtq.enqueue_batch('delayed',
      ARRAY(SELECT jsonb_build_object('i', i) FROM generate_series(b.start, least(b.start + 9999, ${TASKS} - 1)) i),
      delay => 3600);
SELECT count(*) FROM pgtq.enqueue_batch('delayed',
      ARRAY(SELECT jsonb_build_object('i', i) FROM generate_series(1, ${TASKS} / 10) i));
SELECT count(*) FROM generate_series(0, ${TASKS} - 1, 10000) AS b(start),
  LATERAL pgtq.enqueue_batch('limited',
      ARRAY(SELECT jsonb_build_object('i', i) FROM generate_series(b.start, least(b.start + 9999, ${TASKS} - 1)) i));
VACUUM ANALYZE;
SQL

# One pgbench transaction = one read of up to 10 tasks, then one statement completing them (the worker's cycle:
# the read commits before the completes run).
script() { # name, extra read arguments
	cat >"$WORK/$1.sql" <<SQL
SELECT coalesce(array_agg(msg_id), '{}') AS ids, coalesce(array_agg(attempt), '{}') AS atts
  FROM pgtq.read('$1', 10, 300$2) \gset
SELECT count(*) FILTER (WHERE pgtq.complete('$1', u.id, u.att)) AS done
  FROM unnest(:ids::bigint[], :atts::integer[]) AS u(id, att);
SQL
}
script plain ""
script grouped ", grouped => true"
script glifo ", grouped => true, lifo => true"
script limited ", concurrency_limit => ${LIMIT}"
script delayed ""

run() { # name, clients
	local out before after
	before="$(psql -At -d "$DB" -c "SELECT count(*) FROM pgmq.a_$1")"
	# CALLS cycles in all, split over the clients.
	out="$(pgbench -n -M prepared -r -c "$2" -j "$2" -t "$((CALLS / $2))" -f "$WORK/$1.sql" "$DB" 2>&1)" || {
		echo "$out" >&2
		exit 1
	}
	after="$(psql -At -d "$DB" -c "SELECT count(*) FROM pgmq.a_$1")"
	local tps read complete
	tps="$(awk '/^tps/ {print $3}' <<<"$out")"
	# The per-command lines follow the "statement latencies" header: the read first, then the completes.
	read="$(awk '/statement latencies/ {n = NR} n && NR == n + 1 {print $1}' <<<"$out")"
	complete="$(awk '/statement latencies/ {n = NR} n && NR == n + 2 {print $1}' <<<"$out")"
	printf '%-8s clients=%d calls=%d  read %7s ms/call  complete(all) %7s ms  tasks/call %s  cycles/s %s\n' \
		"$1" "$2" "$((CALLS / $2 * $2))" "$read" "$complete" \
		"$(awk -v n="$((after - before))" -v c="$((CALLS / $2 * $2))" 'BEGIN {printf "%.1f", n / c}')" "${tps%.*}"
}

echo "# ms per call (pgbench -M prepared -r, average over the calls; backlog ~${TASKS})"
for q in plain grouped glifo limited delayed; do run "$q" 1; done
for q in plain grouped glifo limited delayed; do run "$q" "$CLIENTS"; done
psql -q -d "$DB" -At -c "SELECT 'left queued: ' || string_agg(format('%s=%s', q, n), ' ') FROM (
	SELECT 'plain' q, count(*) n FROM pgmq.q_plain UNION ALL SELECT 'grouped', count(*) FROM pgmq.q_grouped
	UNION ALL SELECT 'glifo', count(*) FROM pgmq.q_glifo UNION ALL SELECT 'limited', count(*) FROM pgmq.q_limited
	UNION ALL SELECT 'delayed', count(*) FROM pgmq.q_delayed) s"

echo "# EXPLAIN ANALYZE of the statements inside pgtq.read (auto_explain, nested; repeated plan shapes once)"
for call in "plain', 10, 300" "grouped', 10, 300, grouped => true" "glifo', 10, 300, grouped => true, lifo => true" "limited', 10, 300, concurrency_limit => ${LIMIT}" \
	"delayed', 10, 300"; do
	echo "## pgtq.read('${call})"
	psql -q -d "$DB" 2>&1 >/dev/null <<SQL |
LOAD 'auto_explain';
SET auto_explain.log_min_duration = 0;
SET auto_explain.log_analyze = on;
SET auto_explain.log_nested_statements = on;
SET auto_explain.log_level = notice;
SET client_min_messages = notice;
SELECT count(*) FROM pgtq.read('${call});
SQL
		sed -e 's/^NOTICE: *//' | grep -E 'Query Text|Scan|Sort |Aggregate|Rows Removed' |
		cut -c1-150 | awk '{k = $0; gsub(/[0-9.]+/, "", k); if (!seen[k]++) print}'
done
