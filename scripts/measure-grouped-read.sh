#!/usr/bin/env bash
# measure-grouped-read.sh - cost of one pgmq group read (qty 10) against the backlog and the number of groups.
#
# Builds a scratch database (default h2_bench), migrates it with cmd/pgtq-migrate, and for every backlog in
# BACKLOGS (default "10000 1000000") and every group count in NGROUPS (default "100 1000 10000") fills a fresh
# queue by INSERTing generate_series rows straight into pgmq.q_bench (groups interleaved, all visible), builds
# the fifo index (pgmq.create_fifo_index) and times CALLS calls (default 30, after one warm-up call) of
#   pgmq.read_grouped_head, pgmq.read_grouped_rr, pgmq.read_grouped   (vt 300, qty 10)
# and pgmq.read as the ungrouped reference, each measured inside the server with clock_timestamp()
# (median and mean ms per call; no client round trip). Like a worker, each timed read is followed by an
# untimed delete of what it returned, so the heads move on as in real use. With NOINDEX=1 it also times the fallback without the
# fifo index. Afterwards it prints EXPLAIN ANALYZE (auto_explain, nested statements) of every statement one
# call of each group read runs at the last size, then drops the database.
#
# Usage: scripts/measure-grouped-read.sh
#        BACKLOGS=10000 NGROUPS="1000" CALLS=50 NOINDEX=1 KEEP=1 scripts/measure-grouped-read.sh
# Env: PGHOST (127.0.0.1), PGPORT (5432), PGUSER (postgres), DB, BACKLOGS, NGROUPS, CALLS, NOINDEX, KEEP=1 keeps
#      the database for inspection.
set -euo pipefail

cd "$(dirname "$0")/.."
export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-postgres}"
DB="${DB:-h2_bench}"
BACKLOGS="${BACKLOGS:-10000 1000000}"
NGROUPS="${NGROUPS:-100 1000 10000}"
CALLS="${CALLS:-30}"
URL="postgres://${PGUSER}@${PGHOST}:${PGPORT}/${DB}"
GO="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"

cleanup() {
	if [[ "${KEEP:-0}" != 1 ]]; then
		psql -q -d postgres -c "DROP DATABASE IF EXISTS ${DB} WITH (FORCE)" >/dev/null
	fi
}
trap cleanup EXIT

psql -q -d postgres -c "DROP DATABASE IF EXISTS ${DB} WITH (FORCE)" -c "CREATE DATABASE ${DB}" >/dev/null
"$GO" run ./cmd/pgtq-migrate --database-url "$URL" up >/dev/null

# bench_calls(fn, calls): median and mean ms of one pgmq.<fn>('bench', 300, 10), timed on the server; the
# messages it returns are deleted (untimed) before the next call.
psql -q -v ON_ERROR_STOP=1 -d "$DB" <<'SQL'
CREATE FUNCTION public.bench_calls(fn text, calls integer, OUT median_ms numeric, OUT mean_ms numeric)
LANGUAGE plpgsql AS $$
DECLARE
    v_sql text := format('SELECT array_agg(msg_id) FROM pgmq.%I(''bench'', 300, 10)', fn);
    v_t timestamptz;
    v_ids bigint[];
    v_ms numeric[] := '{}';
BEGIN
    FOR i IN 0 .. calls LOOP
        v_t := clock_timestamp();
        EXECUTE v_sql INTO v_ids;
        -- Call 0 is the warm-up (plans, caches).
        IF i > 0 THEN
            v_ms := v_ms || (extract(epoch FROM clock_timestamp() - v_t) * 1000)::numeric;
        END IF;
        DELETE FROM pgmq.q_bench WHERE msg_id = ANY(v_ids);
    END LOOP;
    SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY x)::numeric, 2), round(avg(x), 2)
    INTO median_ms, mean_ms FROM unnest(v_ms) x;
END;
$$;
SQL

printf '%-9s %-7s %-6s %-19s %10s %10s\n' backlog groups index function median_ms mean_ms
for backlog in $BACKLOGS; do
	for groups in $NGROUPS; do
		psql -q -v ON_ERROR_STOP=1 -d "$DB" >/dev/null <<SQL
SELECT pgmq.drop_queue('bench');
SELECT pgmq.create('bench');
INSERT INTO pgmq.q_bench (vt, message, headers)
SELECT clock_timestamp() - interval '1 hour', jsonb_build_object('i', i), jsonb_build_object('x-pgmq-group', 'g' || (i % ${groups}))
FROM generate_series(1, ${backlog}) i;
VACUUM ANALYZE pgmq.q_bench;
SQL
		indexes="yes"
		if [[ "${NOINDEX:-0}" == 1 ]]; then indexes="no yes"; fi
		for idx in $indexes; do
			if [[ "$idx" == yes ]]; then
				psql -q -v ON_ERROR_STOP=1 -d "$DB" -c "SELECT pgmq.create_fifo_index('bench')" -c "ANALYZE pgmq.q_bench" >/dev/null
			fi
			for fn in read_grouped_head read_grouped_rr read_grouped read; do
				calls="$CALLS"
				# Without the index every call scans the backlog: fewer calls at 1M.
				if [[ "$idx" == no && "$backlog" -gt 100000 ]]; then calls=3; fi
				res="$(psql -q -At -F ' ' -v ON_ERROR_STOP=1 -d "$DB" \
					-c "SELECT median_ms, mean_ms FROM public.bench_calls('${fn}', ${calls})")"
				printf '%-9s %-7s %-6s %-19s %10s %10s\n' "$backlog" "$groups" "$idx" "$fn" $res
			done
		done
	done
done

echo
for fn in read_grouped_head read_grouped_rr read_grouped; do
	echo "# EXPLAIN ANALYZE of every statement inside one pgmq.${fn}('bench', 300, 10) (last size above)"
	psql -q -v ON_ERROR_STOP=1 -d "$DB" 2>&1 >/dev/null <<SQL | sed -e 's/^psql:[^ ]* NOTICE:  //' | grep -v '^CONTEXT:\|^PL/pgSQL\|^SQL function'
LOAD 'auto_explain';
SET auto_explain.log_min_duration = 0;
SET auto_explain.log_analyze = on;
SET auto_explain.log_buffers = on;
SET auto_explain.log_timing = on;
SET auto_explain.log_nested_statements = on;
SET auto_explain.log_level = notice;
SELECT count(*) FROM pgmq.${fn}('bench', 300, 10);
SQL
done
