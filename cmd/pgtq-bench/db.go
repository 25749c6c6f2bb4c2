package main

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgtq/pgtq/migrate"
)

// dbSet hands out scratch databases: one migrated template, cloned (CREATE DATABASE ... TEMPLATE) for every
// run so that each run starts from an empty, freshly vacuumed schema.
type dbSet struct {
	adminURL string
	prefix   string
	admin    *pgxpool.Pool
	template string
	seq      int
}

func newDBSet(ctx context.Context, adminURL, prefix, extraSQL string) (*dbSet, error) {
	admin, err := pgxpool.New(ctx, adminURL)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", redact(adminURL), err)
	}
	if err := admin.Ping(ctx); err != nil {
		admin.Close()
		return nil, fmt.Errorf("connect %s: %w", redact(adminURL), err)
	}
	s := &dbSet{adminURL: adminURL, prefix: prefix, admin: admin, template: prefix + "_template"}
	if err := s.drop(ctx, s.template); err != nil {
		admin.Close()
		return nil, err
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{s.template}.Sanitize()); err != nil {
		admin.Close()
		return nil, fmt.Errorf("create template database: %w", err)
	}
	pool, err := pgxpool.New(ctx, s.urlFor(s.template))
	if err != nil {
		admin.Close()
		return nil, fmt.Errorf("connect template database: %w", err)
	}
	defer pool.Close()
	if err := migrate.Up(ctx, pool); err != nil {
		admin.Close()
		return nil, fmt.Errorf("migrate template database: %w", err)
	}
	if extraSQL != "" {
		if _, err := pool.Exec(ctx, extraSQL); err != nil {
			admin.Close()
			return nil, fmt.Errorf("apply extra SQL to the template: %w", err)
		}
	}
	return s, nil
}

// urlFor returns the admin URL pointed at database name.
func (s *dbSet) urlFor(name string) string {
	u, err := url.Parse(s.adminURL)
	if err != nil || u.Scheme == "" {
		// A keyword/value connection string: a later dbname wins.
		return s.adminURL + " dbname=" + name
	}
	u.Path = "/" + name
	return u.String()
}

// clone creates a fresh scratch database from the migrated template and returns its name.
func (s *dbSet) clone(ctx context.Context) (string, error) {
	s.seq++
	name := fmt.Sprintf("%s_run%d", s.prefix, s.seq)
	if err := s.drop(ctx, name); err != nil {
		return "", err
	}
	_, err := s.admin.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s",
		pgx.Identifier{name}.Sanitize(), pgx.Identifier{s.template}.Sanitize()))
	if err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	return name, nil
}

// createEmpty creates an empty scratch database (from template0) and returns its name.
func (s *dbSet) createEmpty(ctx context.Context, what string) (string, error) {
	s.seq++
	name := fmt.Sprintf("%s_%s%d", s.prefix, what, s.seq)
	if err := s.drop(ctx, name); err != nil {
		return "", err
	}
	if _, err := s.admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE template0"); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	return name, nil
}

func (s *dbSet) drop(ctx context.Context, name string) error {
	if _, err := s.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

func (s *dbSet) close(ctx context.Context) {
	_ = s.drop(ctx, s.template)
	s.admin.Close()
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxx")
	}
	return u.String()
}

// tableStats is what Postgres says about one table after a scenario.
type tableStats struct {
	Table     string `json:"table"`
	LiveTup   int64  `json:"live_tuples"`
	DeadTup   int64  `json:"dead_tuples"`
	SizeBytes int64  `json:"size_bytes"`
}

// collectTableStats waits until the database has no client backends but ours (so the workers' backends
// have exited and flushed their statistics), then reads live/dead tuples and total size (with indexes and
// TOAST) of every table in schemas pgmq and pgtq plus the raw baseline table.
func collectTableStats(ctx context.Context, pool *pgxpool.Pool) ([]tableStats, error) {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		var others int
		err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
			AND application_name <> 'pgtq-bench'`).Scan(&others)
		if err != nil {
			return nil, fmt.Errorf("wait for worker backends: %w", err)
		}
		if others == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond) // polling a condition with a deadline
	}
	if _, err := pool.Exec(ctx, `SELECT pg_stat_force_next_flush()`); err != nil {
		return nil, fmt.Errorf("flush stats: %w", err)
	}
	rows, err := pool.Query(ctx, `SELECT schemaname || '.' || relname, n_live_tup, n_dead_tup,
			pg_total_relation_size(relid)
		FROM pg_stat_user_tables
		WHERE schemaname IN ('pgmq', 'pgtq', 'bench') AND pg_total_relation_size(relid) > 16384
		ORDER BY pg_total_relation_size(relid) DESC`)
	if err != nil {
		return nil, fmt.Errorf("table stats: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (tableStats, error) {
		var t tableStats
		err := r.Scan(&t.Table, &t.LiveTup, &t.DeadTup, &t.SizeBytes)
		return t, err
	})
}

// prepareForRun makes runs comparable: statistics and visibility map of the freshly loaded backlog are
// up to date, and (with checkpoint) a checkpoint is not already due from the bulk load.
func prepareForRun(ctx context.Context, pool *pgxpool.Pool, checkpoint bool, tables ...string) error {
	for _, t := range tables {
		if _, err := pool.Exec(ctx, "VACUUM (ANALYZE) "+t); err != nil {
			return fmt.Errorf("vacuum %s: %w", t, err)
		}
	}
	if checkpoint {
		// CHECKPOINT needs superuser or pg_checkpoint; without it the run is merely noisier.
		_, _ = pool.Exec(ctx, "CHECKPOINT")
	}
	return nil
}
