package main

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// The prune scenarios measure one pgtq.prune call on an archive of sc.Tasks rows archived evenly over the last
// ten days, with an age of one day, so that 90% of the rows go:
//   - "prune: delete rows": a plain queue (pgmq.create), whose prune deletes the rows in batches of 1000;
//   - "prune: drop partitions": a queue made with pgmq.create_partitioned(..., '1 day'), whose archive is
//     partitioned by archived_at: prune drops the nine whole days and deletes only the rows of the partition
//     that straddles the age. Needs pg_partman on the server (scripts/deps.sh installs it).
//
// "tasks" is the rows pruned and "µs/task" the cost per row, that is seconds per million rows.

const kindPrune = "prune"

const (
	pruneDeleteName     = "prune: delete rows"
	prunePartitionsName = "prune: drop partitions"
)

func init() { allKinds = append(allKinds, kindPrune) }

// pruneScenarios lists the prune scenarios unless -only leaves them out.
func pruneScenarios(c config) []scenario {
	if len(c.only) > 0 && !slices.Contains(c.only, kindPrune) {
		return nil
	}
	n := 500_000
	if c.quick {
		n = 50_000
	}
	return []scenario{
		{Name: pruneDeleteName, Kind: kindPrune, Tasks: n, Workers: 1},
		{Name: prunePartitionsName, Kind: kindPrune, Tasks: n, Workers: 1},
	}
}

// runPrune loads the archive in a fresh database and times the prune.
func (b *bench) runPrune(ctx context.Context, sc scenario) (runResult, error) {
	r, err := b.openRun(ctx)
	if err != nil {
		return runResult{}, err
	}
	defer b.closeRun(context.WithoutCancel(ctx), r)

	create := `SELECT pgmq.create($1)`
	if sc.Name == prunePartitionsName {
		if _, err := r.pool.Exec(ctx, `CREATE SCHEMA partman; CREATE EXTENSION pg_partman SCHEMA partman`); err != nil {
			return runResult{}, fmt.Errorf("pg_partman (scripts/deps.sh installs postgresql-15-partman): %w", err)
		}
		// 11 daily partitions back (the ten days of archive and today) and 4 ahead.
		create = `SELECT pgmq.create_partitioned($1, '1 day', '30 days', 11)`
	}
	if _, err := r.pool.Exec(ctx, create, benchQueue); err != nil {
		return runResult{}, fmt.Errorf("create queue: %w", err)
	}
	if _, err := r.pool.Exec(ctx, `SELECT pgtq.create_queue($1)`, benchQueue); err != nil {
		return runResult{}, fmt.Errorf("register queue: %w", err)
	}
	_, err = r.pool.Exec(ctx, `INSERT INTO `+queueTable("a")+` (msg_id, read_ct, enqueued_at, archived_at, vt, message, headers)
		SELECT i, 1, t, t, t, jsonb_build_object('t', 0, 's', i), '{"x-pgtq-status": "completed"}'
		FROM generate_series(1, $1::bigint) AS i,
		     LATERAL (SELECT now() - interval '10 days' + (i * interval '10 days') / $1) AS x (t)`, sc.Tasks)
	if err != nil {
		return runResult{}, fmt.Errorf("load archive: %w", err)
	}
	if err := prepareForRun(ctx, r.pool, b.cfg.checkpoint, queueTable("a")); err != nil {
		return runResult{}, err
	}

	start := time.Now()
	var pruned int64
	if err := r.pool.QueryRow(ctx, `SELECT pgtq.prune($1, interval '1 day', 1000)`, benchQueue).Scan(&pruned); err != nil {
		return runResult{}, fmt.Errorf("prune: %w", err)
	}
	elapsed := time.Since(start)
	if want := int64(sc.Tasks) * 9 / 10; pruned < want-int64(sc.Tasks)/100 || pruned > want+int64(sc.Tasks)/100 {
		return runResult{}, fmt.Errorf("prune removed %d rows, want about %d", pruned, want)
	}
	return runResult{Tasks: pruned, Seconds: elapsed.Seconds(), TasksPerSec: float64(pruned) / elapsed.Seconds(),
		P50Ms: -1, P95Ms: -1, P99Ms: -1}, nil
}
