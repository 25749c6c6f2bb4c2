package main

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// rawBaseline measures the cheapest claim-and-delete loop this machine can run: a bare table, loops
// connections each deleting batch rows per statement with FOR UPDATE SKIP LOCKED. Every scenario is
// reported as a ratio to it at the same concurrency.
func rawBaseline(ctx context.Context, pool *pgxpool.Pool, checkpoint bool, n, loops, batch int, beforeDrain func()) (tasks int64, elapsed time.Duration, err error) {
	if _, err := pool.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS bench;
		CREATE TABLE bench.raw_jobs (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, payload jsonb NOT NULL)`); err != nil {
		return 0, 0, fmt.Errorf("create raw table: %w", err)
	}
	_, err = pool.Exec(ctx, `INSERT INTO bench.raw_jobs (payload)
		SELECT jsonb_build_object('t', 0, 'g', 0, 's', i) FROM generate_series(1, $1) AS i`, n)
	if err != nil {
		return 0, 0, fmt.Errorf("load raw table: %w", err)
	}
	if err := prepareForRun(ctx, pool, checkpoint, "bench.raw_jobs"); err != nil {
		return 0, 0, err
	}
	type loopResult struct {
		n   int64
		err error
	}
	beforeDrain()
	resc := make(chan loopResult, loops)
	start := time.Now()
	for range loops {
		go func() {
			var done int64
			for {
				tag, err := pool.Exec(ctx, `DELETE FROM bench.raw_jobs WHERE id IN
					(SELECT id FROM bench.raw_jobs ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
					RETURNING id, payload`, batch)
				if err != nil {
					resc <- loopResult{done, fmt.Errorf("raw delete: %w", err)}
					return
				}
				if tag.RowsAffected() == 0 {
					resc <- loopResult{done, nil}
					return
				}
				done += tag.RowsAffected()
			}
		}()
	}
	for range loops {
		r := <-resc
		tasks += r.n
		if r.err != nil && err == nil {
			err = r.err
		}
	}
	return tasks, time.Since(start), err
}
