package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// statementStat is one pg_stat_statements row of a run's database: where the server's time went.
type statementStat struct {
	Query   string  `json:"query"`
	Calls   int64   `json:"calls"`
	TotalMs float64 `json:"total_ms"`
	MeanMs  float64 `json:"mean_ms"`
	Rows    int64   `json:"rows"`
	Top     bool    `json:"toplevel"`
}

// hasStatements reports whether pg_stat_statements is loaded (make bench preloads it).
func hasStatements(ctx context.Context, pool *pgxpool.Pool) bool {
	var libs string
	if pool.QueryRow(ctx, `SELECT current_setting('shared_preload_libraries')`).Scan(&libs) != nil {
		return false
	}
	return strings.Contains(libs, "pg_stat_statements")
}

// enableStatements makes every later session of database name record nested statements too (the
// statements inside the pgtq PL/pgSQL functions are where the time goes).
func enableStatements(ctx context.Context, admin, pool *pgxpool.Pool, name string) error {
	if _, err := admin.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{name}.Sanitize()+" SET pg_stat_statements.track = 'all'"); err != nil {
		return fmt.Errorf("enable pg_stat_statements: %w", err)
	}
	if _, err := pool.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements`); err != nil {
		return fmt.Errorf("create extension pg_stat_statements: %w", err)
	}
	return nil
}

// resetStatements forgets the current database's statements, so that a burn-down's statistics show
// the drain and not the bulk load before it.
func resetStatements(ctx context.Context, pool *pgxpool.Pool) error {
	_, err := pool.Exec(ctx, `SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = current_database()), 0)`)
	if err != nil {
		return fmt.Errorf("reset pg_stat_statements: %w", err)
	}
	return nil
}

// topStatements returns the n statements of the current database with the most execution time.
func topStatements(ctx context.Context, pool *pgxpool.Pool, n int) ([]statementStat, error) {
	rows, err := pool.Query(ctx, `SELECT left(regexp_replace(query, '\s+', ' ', 'g'), 240), calls,
			total_exec_time, mean_exec_time, rows, toplevel
		FROM pg_stat_statements
		WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
		  AND query NOT ILIKE '%pg_stat_%' AND query NOT ILIKE '%VACUUM%' AND query NOT ILIKE 'CHECKPOINT%'
		ORDER BY total_exec_time DESC LIMIT $1`, n)
	if err != nil {
		return nil, fmt.Errorf("read pg_stat_statements: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (statementStat, error) {
		var s statementStat
		err := r.Scan(&s.Query, &s.Calls, &s.TotalMs, &s.MeanMs, &s.Rows, &s.Top)
		return s, err
	})
}

// waitSampler samples what the run database's other backends are doing every 10 ms: active on CPU,
// waiting on an event (WAL flush, a lock, ...) or idle. The shares tell whether a scenario is bound by
// commits, by locks or by CPU.
type waitSampler struct {
	mu      sync.Mutex
	counts  map[string]int64
	samples int64
	stop    context.CancelFunc
	done    chan struct{}
}

// The sampler queries from the admin database, so that its own transactions do not count as commits of the
// run's database db.
func startWaitSampler(ctx context.Context, admin *pgxpool.Pool, db string) *waitSampler {
	ctx, cancel := context.WithCancel(ctx)
	s := &waitSampler{counts: map[string]int64{}, stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			rows, err := admin.Query(ctx, `SELECT CASE
					WHEN state = 'active' AND wait_event IS NULL THEN 'CPU'
					WHEN state = 'active' THEN wait_event_type || ':' || wait_event
					ELSE coalesce(state, 'unknown') END
				FROM pg_stat_activity
				WHERE datname = $1 AND backend_type = 'client backend' AND application_name <> 'pgtq-bench'`, db)
			if err != nil {
				continue
			}
			var keys []string
			for rows.Next() {
				var k string
				if rows.Scan(&k) == nil {
					keys = append(keys, k)
				}
			}
			rows.Close()
			s.mu.Lock()
			s.samples++
			for _, k := range keys {
				s.counts[k]++
			}
			s.mu.Unlock()
		}
	}()
	return s
}

// waitShare is the average number of worker backends in one state per sample.
type waitShare struct {
	State    string  `json:"state"`
	Backends float64 `json:"backends"`
}

// finish stops sampling and returns the states sorted by their average number of backends.
func (s *waitSampler) finish() []waitShare {
	s.stop()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []waitShare
	for k, c := range s.counts {
		if s.samples > 0 {
			out = append(out, waitShare{State: k, Backends: float64(c) / float64(s.samples)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Backends > out[j].Backends })
	return out
}
