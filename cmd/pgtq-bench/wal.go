package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// walCounters is a snapshot of the cluster's WAL statistics (pg_stat_wal is cluster-wide: the deltas are
// only a run's own while nothing else runs on the cluster) and of one database's commit count.
type walCounters struct {
	Records int64
	Bytes   int64
	Writes  int64
	Syncs   int64
	Commits int64
}

// readWAL reads pg_stat_wal and the commits of database db. Backends report their counters when they
// exit, or when they go idle at most once a second (else up to 10 s later), so read it after the run's
// sessions have ended (waitOthersGone) and the bench's own pools have reported theirs (flushPoolStats).
func readWAL(ctx context.Context, admin *pgxpool.Pool, db string) (walCounters, error) {
	var w walCounters
	err := admin.QueryRow(ctx, `SELECT w.wal_records, w.wal_bytes::bigint, w.wal_write, w.wal_sync, d.xact_commit
		FROM pg_stat_wal w, pg_stat_database d WHERE d.datname = $1`, db).
		Scan(&w.Records, &w.Bytes, &w.Writes, &w.Syncs, &w.Commits)
	if err != nil {
		return w, fmt.Errorf("read pg_stat_wal and pg_stat_database: %w", err)
	}
	return w, nil
}

// walAccount is one run's commit and WAL accounting: deltas of pg_stat_wal and of the run database's
// xact_commit from the start of the measured part to the end of the run, per task of that span.
type walAccount struct {
	Tasks          int64   `json:"tasks"` // tasks done in the accounted span (a continuous run's warm-up included)
	Flushes        int64   `json:"wal_flushes"`
	Writes         int64   `json:"wal_writes"`
	Records        int64   `json:"wal_records"`
	Bytes          int64   `json:"wal_bytes"`
	Commits        int64   `json:"commits"`
	TasksPerFlush  float64 `json:"tasks_per_flush"`
	CommitsPerTask float64 `json:"commits_per_task"`
	RecordsPerTask float64 `json:"wal_records_per_task"`
	BytesPerTask   float64 `json:"wal_bytes_per_task"`
	// Flush is the cluster's flush cost measured right before the measured part of the run.
	Flush flushCost `json:"flush_cost"`
}

// account computes the per-task figures of the deltas between before and after for tasks tasks.
func account(before, after walCounters, tasks int64) walAccount {
	a := walAccount{Tasks: tasks, Flushes: after.Syncs - before.Syncs, Writes: after.Writes - before.Writes,
		Records: after.Records - before.Records, Bytes: after.Bytes - before.Bytes, Commits: after.Commits - before.Commits}
	if tasks > 0 {
		t := float64(tasks)
		a.CommitsPerTask, a.RecordsPerTask, a.BytesPerTask = float64(a.Commits)/t, float64(a.Records)/t, float64(a.Bytes)/t
		if a.Flushes > 0 {
			a.TasksPerFlush = t / float64(a.Flushes)
		}
	}
	return a
}

// flushCost is what one WAL flush costs on this cluster at the moment: the median time of a one-row
// INSERT committed with synchronous_commit on (waits for the flush) minus the same with it off.
type flushCost struct {
	SyncMs  float64 `json:"commit_sync_ms"`
	AsyncMs float64 `json:"commit_async_ms"`
	FlushMs float64 `json:"flush_ms"`
	// SyncsPerCommit is pg_stat_wal.wal_sync per synchronous commit of the probe (about 1: each commit
	// flushed on its own).
	SyncsPerCommit float64 `json:"syncs_per_commit"`
}

// flushProbeCommits is the number of timed commits of each kind per flush-cost probe.
const flushProbeCommits = 150

// measureFlush times flushProbeCommits one-row INSERTs with synchronous_commit off and then on in database
// db (a scratch database of the bench), one session, nothing else running.
func measureFlush(ctx context.Context, admin *pgxpool.Pool, url, db string) (flushCost, error) {
	var fc flushCost
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fc, fmt.Errorf("flush probe: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	// Keep the probe out of the run's pg_stat_statements (needs superuser; without it the probe's statements
	// merely show up among the run's).
	_, _ = conn.Exec(ctx, `SET pg_stat_statements.track = 'none'`)
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS public.flush_probe (x int)`); err != nil {
		return fc, fmt.Errorf("flush probe: %w", err)
	}
	timed := func(sync string) (float64, error) {
		if _, err := conn.Exec(ctx, `SELECT set_config('synchronous_commit', $1, false)`, sync); err != nil {
			return 0, err
		}
		ms := make([]float64, 0, flushProbeCommits)
		for i := range flushProbeCommits + 10 {
			t0 := time.Now()
			if _, err := conn.Exec(ctx, `INSERT INTO public.flush_probe VALUES (1)`); err != nil {
				return 0, err
			}
			if i >= 10 { // the first few warm the session up
				ms = append(ms, float64(time.Since(t0).Microseconds())/1000)
			}
		}
		slices.Sort(ms)
		return ms[len(ms)/2], nil
	}
	if fc.AsyncMs, err = timed("off"); err != nil {
		return fc, fmt.Errorf("flush probe: %w", err)
	}
	before, err := readWAL(ctx, admin, db)
	if err != nil {
		return fc, err
	}
	if fc.SyncMs, err = timed("on"); err != nil {
		return fc, fmt.Errorf("flush probe: %w", err)
	}
	// The probe's session is still open: flush its pending statistics before reading the WAL counters, and
	// again at the end, so that nothing of the probe is reported later, inside the run it precedes.
	if _, err := conn.Exec(ctx, `SELECT pg_stat_force_next_flush()`); err != nil {
		return fc, fmt.Errorf("flush probe: %w", err)
	}
	after, err := readWAL(ctx, admin, db)
	if err != nil {
		return fc, err
	}
	if _, err := conn.Exec(ctx, `TRUNCATE public.flush_probe`); err != nil {
		return fc, fmt.Errorf("flush probe: %w", err)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_stat_force_next_flush()`); err != nil {
		return fc, fmt.Errorf("flush probe: %w", err)
	}
	fc.FlushMs = max(0, fc.SyncMs-fc.AsyncMs)
	fc.SyncsPerCommit = float64(after.Syncs-before.Syncs) / float64(flushProbeCommits+10)
	return fc, nil
}

// waitOthersGone waits (up to 10 s) until database db has no client backends but the bench's own
// (application_name pgtq-bench), so that the run's sessions have ended and reported their statistics.
func waitOthersGone(ctx context.Context, admin *pgxpool.Pool, db string) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var others int
		err := admin.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = $1 AND backend_type = 'client backend' AND application_name <> 'pgtq-bench'`, db).Scan(&others)
		if err != nil {
			return fmt.Errorf("wait for the run's backends: %w", err)
		}
		if others == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond): // polling a condition with a deadline
		}
	}
	return nil
}

// probeFlush measures the cluster's flush cost in a scratch database of its own, before the first scenario.
func (b *bench) probeFlush(ctx context.Context) (flushCost, error) {
	name, err := b.dbs.createEmpty(ctx, "flush")
	if err != nil {
		return flushCost{}, err
	}
	defer func() { _ = b.dbs.drop(context.WithoutCancel(ctx), name) }()
	return measureFlush(ctx, b.dbs.admin, b.dbs.urlFor(name), name)
}

// flushLine describes the disk the suite ran on: the measured flush cost and the simulated delay, if any.
func flushLine(m machine) string {
	disk := "this machine's disk"
	if m.FsyncDelayUS > 0 {
		disk = fmt.Sprintf("simulated cloud disk: slow-fsync shim adds %d µs to every fsync/fdatasync", m.FsyncDelayUS)
	}
	f := m.FlushCost
	return fmt.Sprintf("flush cost (%s): %.2f ms per WAL flush (one-row commit p50 %.2f ms with synchronous_commit on, %.2f ms off; %.2f WAL syncs per commit)",
		disk, f.FlushMs, f.SyncMs, f.AsyncMs, f.SyncsPerCommit)
}

// medianWAL takes the median of every accounting column separately.
func medianWAL(runs []runResult) walAccount {
	col := func(f func(w walAccount) float64) float64 {
		xs := make([]float64, len(runs))
		for i, r := range runs {
			xs[i] = f(r.WAL)
		}
		return median(xs)
	}
	return walAccount{
		Tasks:          int64(col(func(w walAccount) float64 { return float64(w.Tasks) })),
		Flushes:        int64(col(func(w walAccount) float64 { return float64(w.Flushes) })),
		Writes:         int64(col(func(w walAccount) float64 { return float64(w.Writes) })),
		Records:        int64(col(func(w walAccount) float64 { return float64(w.Records) })),
		Bytes:          int64(col(func(w walAccount) float64 { return float64(w.Bytes) })),
		Commits:        int64(col(func(w walAccount) float64 { return float64(w.Commits) })),
		TasksPerFlush:  col(func(w walAccount) float64 { return w.TasksPerFlush }),
		CommitsPerTask: col(func(w walAccount) float64 { return w.CommitsPerTask }),
		RecordsPerTask: col(func(w walAccount) float64 { return w.RecordsPerTask }),
		BytesPerTask:   col(func(w walAccount) float64 { return w.BytesPerTask }),
		Flush: flushCost{
			SyncMs:         col(func(w walAccount) float64 { return w.Flush.SyncMs }),
			AsyncMs:        col(func(w walAccount) float64 { return w.Flush.AsyncMs }),
			FlushMs:        col(func(w walAccount) float64 { return w.Flush.FlushMs }),
			SyncsPerCommit: col(func(w walAccount) float64 { return w.Flush.SyncsPerCommit }),
		},
	}
}

// walRows renders the commit and WAL accounting table: a header row and one row per scenario that has it.
func walRows(rep report) [][]string {
	rows := [][]string{{"accounting", "tasks", "WAL flushes", "commits", "tasks/flush", "commits/task",
		"WAL rec/task", "WAL B/task", "flush ms"}}
	for _, r := range rep.Results {
		w := r.Median.WAL
		if w.Tasks == 0 {
			continue
		}
		rows = append(rows, []string{r.Scenario.Name, fmt.Sprint(w.Tasks), fmt.Sprint(w.Flushes), fmt.Sprint(w.Commits),
			fmt.Sprintf("%.1f", w.TasksPerFlush), fmt.Sprintf("%.3f", w.CommitsPerTask),
			fmt.Sprintf("%.1f", w.RecordsPerTask), fmt.Sprintf("%.0f", w.BytesPerTask), fmt.Sprintf("%.2f", w.Flush.FlushMs)})
	}
	return rows
}

// flushPoolStats makes every idle session of the pools report its pending statistics now: a session that
// loaded a backlog, cloned a database (PostgreSQL 15 WAL-logs the copy) or drained the raw table would
// otherwise report its WAL and commits up to 10 s later, inside the next measured span.
func flushPoolStats(ctx context.Context, pools ...*pgxpool.Pool) error {
	for _, pool := range pools {
		for _, c := range pool.AcquireAllIdle(ctx) {
			_, err := c.Exec(ctx, `SELECT pg_stat_force_next_flush()`)
			c.Release()
			if err != nil {
				return fmt.Errorf("flush statistics: %w", err)
			}
		}
	}
	return nil
}
