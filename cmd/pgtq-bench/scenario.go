package main

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Scenario kinds, also the names -only selects by.
const (
	kindBurnDown   = "burn-down"
	kindContinuous = "continuous"
	kindLatency    = "latency"
	kindGrouped    = "grouped"
	kindLIFO       = "lifo"
	kindLimit      = "limit"
	kindScaling    = "scaling"
	kindRaw        = "raw"
	kindRiver      = "river"
)

var allKinds = []string{kindBurnDown, kindContinuous, kindLatency, kindGrouped, kindLIFO, kindLimit, kindScaling, kindRaw, kindRiver}

// scenario is one row of the result table.
type scenario struct {
	Name        string        `json:"name"`
	Kind        string        `json:"kind"`
	Tasks       int           `json:"tasks,omitempty"`
	Groups      int           `json:"groups,omitempty"`
	LIFO        bool          `json:"lifo,omitempty"`
	Workers     int           `json:"workers"`
	Concurrency int           `json:"concurrency"`
	Limit       int           `json:"limit,omitempty"`
	Duration    time.Duration `json:"duration_ns,omitempty"`
	Rate        int           `json:"rate,omitempty"`
	// Backlog and ProducerBatch shape a continuous run's producers: they enqueue ProducerBatch tasks per
	// call while fewer than Backlog are waiting (0: 4 x Concurrency + 100 and 100).
	Backlog       int `json:"backlog,omitempty"`
	ProducerBatch int `json:"producer_batch,omitempty"`
	// RiverShape marks PGTQ's rows in the shape of River's bench, which run only when River's rows do.
	RiverShape bool `json:"river_shape,omitempty"`
	Runs       int  `json:"runs"`
	// Interleave names a set of consecutive scenarios whose runs alternate (PGTQ's burn-down and River's):
	// run 1 of each, then run 2 of each, so that both see the machine in the same state.
	Interleave string `json:"interleave,omitempty"`
}

// runResult is what one run of a scenario measured.
type runResult struct {
	Tasks          int64           `json:"tasks"`
	Seconds        float64         `json:"seconds"`
	TasksPerSec    float64         `json:"tasks_per_sec"`
	P50Ms          float64         `json:"p50_ms"`
	P95Ms          float64         `json:"p95_ms"`
	P99Ms          float64         `json:"p99_ms"`
	MaxInflight    int64           `json:"max_inflight"`
	MaxProcessing  int64           `json:"max_processing_db,omitempty"`
	WorkerRSSMiB   float64         `json:"worker_rss_mib"`
	GroupOverlaps  int64           `json:"group_overlaps"`
	OrderErrors    int64           `json:"order_errors"`
	QueueDeadTup   int64           `json:"queue_dead_tuples"`
	QueueBytes     int64           `json:"queue_bytes"`
	ArchiveBytes   int64           `json:"archive_bytes"`
	TotalDeadTup   int64           `json:"total_dead_tuples"`
	Tables         []tableStats    `json:"tables"`
	ArchivedInSpan int64           `json:"archived"`
	RawTasksPerSec float64         `json:"adjacent_raw_tasks_per_sec,omitempty"`
	RawRatio       float64         `json:"adjacent_raw_ratio,omitempty"`
	EnqueueP50Ms   float64         `json:"enqueue_p50_ms,omitempty"`
	EnqueueP99Ms   float64         `json:"enqueue_p99_ms,omitempty"`
	Waits          []waitShare     `json:"wait_states,omitempty"`
	Statements     []statementStat `json:"top_statements,omitempty"`
	WAL            walAccount      `json:"wal"`
	River          *riverOutput    `json:"river,omitempty"`
}

// bench holds what every scenario run needs.
type bench struct {
	cfg  config
	pgss bool // pg_stat_statements is loaded

	profileSeq int
	dbs        *dbSet
	prod       func(pool *pgxpool.Pool) producer
}

const benchQueue = "bench"

// runDB is an open scratch database for one run.
type runDB struct {
	name  string
	url   string
	pool  *pgxpool.Pool
	admin *pgxpool.Pool
	waits *waitSampler // started when the measured part of the run begins
	wal   walCounters  // WAL and commit counters at the start of the measured part
	flush flushCost    // the cluster's flush cost measured just before it
	// walErr is the error of measuring them; it fails the run.
	walErr error
}

// measure marks the start of the measured part of a run: the flush cost is measured (before the run, so
// that the run's own aftermath, such as autovacuum of its tables, does not weigh on it), the WAL and commit
// counters are read and the wait sampler starts.
func (r *runDB) measure(ctx context.Context) error {
	r.flush, r.walErr = measureFlush(ctx, r.admin, r.url, r.name)
	if r.walErr == nil {
		r.walErr = flushPoolStats(ctx, r.pool, r.admin)
	}
	if r.walErr == nil {
		r.wal, r.walErr = readWAL(ctx, r.admin, r.name)
	}
	r.waits = startWaitSampler(ctx, r.admin, r.name)
	return r.walErr
}

func (b *bench) openRun(ctx context.Context) (*runDB, error) {
	name, err := b.dbs.clone(ctx)
	if err != nil {
		return nil, err
	}
	return b.connectRun(ctx, name)
}

// openEmpty creates an empty scratch database (for River, which migrates its own schema).
func (b *bench) openEmpty(ctx context.Context, what string) (*runDB, error) {
	name, err := b.dbs.createEmpty(ctx, what)
	if err != nil {
		return nil, err
	}
	return b.connectRun(ctx, name)
}

func (b *bench) connectRun(ctx context.Context, name string) (*runDB, error) {
	url := b.dbs.urlFor(name)
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse run url: %w", err)
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = "pgtq-bench"
	cfg.MaxConns = 32
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", name, err)
	}
	if b.pgss {
		if err := enableStatements(ctx, b.dbs.admin, pool, name); err != nil {
			pool.Close()
			return nil, err
		}
	}
	return &runDB{name: name, url: url, pool: pool, admin: b.dbs.admin}, nil
}

// producerPool connects the producers of a continuous or latency run. Its sessions are named
// pgtq-bench-producer, so that the wait sampler counts them (their commits are part of what is measured).
func (b *bench) producerPool(ctx context.Context, r *runDB) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(r.url)
	if err != nil {
		return nil, fmt.Errorf("parse run url: %w", err)
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = "pgtq-bench-producer"
	cfg.MaxConns = 32
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect producers: %w", err)
	}
	return pool, nil
}

func (b *bench) closeRun(ctx context.Context, r *runDB) {
	r.pool.Close()
	if !b.cfg.keepDBs {
		_ = b.dbs.drop(ctx, r.name)
	}
}

func queueTable(prefix string) string {
	return pgx.Identifier{"pgmq", prefix + "_" + benchQueue}.Sanitize()
}

func (b *bench) childOpts(r *runDB, sc scenario) childOptions {
	var profile string
	if b.cfg.profileDir != "" {
		b.profileSeq++
		profile = filepath.Join(b.cfg.profileDir, fmt.Sprintf("worker-%s-%d.pprof",
			strings.NewReplacer(" ", "_", ",", "").Replace(sc.Name), b.profileSeq))
	}
	return childOptions{
		CPUProfile: profile,
		URL:        r.url, Queue: benchQueue, Engine: b.cfg.engine, Concurrency: sc.Concurrency, Conns: b.cfg.conns,
		Lease: 60, Grouped: sc.Groups > 0, LIFO: sc.LIFO, Limit: sc.Limit, CheckGroups: sc.Groups > 0,
		// Burn-downs start from a pre-loaded backlog, so their enqueue-to-start time is meaningless.
		RecordAfter: math.MaxInt64,
	}
}

func (b *bench) runOnce(ctx context.Context, sc scenario) (runResult, error) {
	if sc.Kind == kindRiver {
		return b.runRiver(ctx, sc)
	}
	r, err := b.openRun(ctx)
	if err != nil {
		return runResult{}, err
	}
	defer b.closeRun(context.WithoutCancel(ctx), r)
	var res runResult
	switch sc.Kind {
	case kindRaw:
		res, err = b.runRaw(ctx, r, sc)
	case kindContinuous:
		res, err = b.runContinuous(ctx, r, sc)
	case kindLatency:
		res, err = b.runLatency(ctx, r, sc)
	default:
		res, err = b.runBurnDown(ctx, r, sc)
	}
	if err != nil {
		if r.waits != nil {
			res.Waits = r.waits.finish()
		}
		return res, err
	}
	accounted := res.Tasks
	if sc.Kind == kindContinuous {
		// The accounting spans the whole run, the warm-up included.
		if err := r.pool.QueryRow(ctx, `SELECT count(*) FROM `+queueTable("a")).Scan(&accounted); err != nil {
			return res, fmt.Errorf("count archived: %w", err)
		}
	}
	return b.finishRun(ctx, r, sc, res, accounted)
}

// finishRun completes a run of either system after its sessions have stopped: commit and WAL accounting
// over accounted tasks, the flush cost, top statements and table statistics, and the adjacent raw drain.
func (b *bench) finishRun(ctx context.Context, r *runDB, sc scenario, res runResult, accounted int64) (runResult, error) {
	if r.waits != nil {
		res.Waits = r.waits.finish()
	}
	if r.walErr != nil {
		return res, r.walErr
	}
	if err := waitOthersGone(ctx, r.admin, r.name); err != nil {
		return res, err
	}
	if err := flushPoolStats(ctx, r.pool, r.admin); err != nil {
		return res, err
	}
	after, err := readWAL(ctx, r.admin, r.name)
	if err != nil {
		return res, err
	}
	res.WAL = account(r.wal, after, accounted)
	res.WAL.Flush = r.flush
	if b.pgss {
		if res.Statements, err = topStatements(ctx, r.pool, 8); err != nil {
			return res, err
		}
	}
	tables, err := collectTableStats(ctx, r.pool)
	if err != nil {
		return res, err
	}
	if sc.Kind == kindRiver {
		tables = nil // River's tables are its own; the bench's raw table is not there yet
	}
	res.Tables = tables
	for _, t := range tables {
		res.TotalDeadTup += t.DeadTup
		switch t.Table {
		case "pgmq.q_" + benchQueue, "bench.raw_jobs":
			res.QueueDeadTup, res.QueueBytes = t.DeadTup, t.SizeBytes
		case "pgmq.a_" + benchQueue:
			res.ArchiveBytes = t.SizeBytes
		}
	}
	if sc.Kind != kindRaw && res.TasksPerSec > 0 {
		// The machine's own limit at this very moment: a raw claim-and-delete drain with the same
		// concurrency, in the same database, right after the run. On a shared machine the load changes from
		// minute to minute, so the ratio to this adjacent baseline is steadier than either number alone.
		loops, batch := claimShape(sc.Concurrency, b.cfg.conns)
		size := int(min(max(int64(sc.Tasks), res.Tasks), adjacentRawMax))
		n, elapsed, err := rawBaseline(ctx, r.pool, false, size, loops, batch, func() {})
		if err != nil {
			return res, fmt.Errorf("adjacent raw baseline: %w", err)
		}
		if n > 0 && elapsed > 0 {
			res.RawTasksPerSec = float64(n) / elapsed.Seconds()
			res.RawRatio = res.TasksPerSec / res.RawTasksPerSec
		}
	}
	return res, nil
}

// adjacentRawMax caps the size of the raw baseline run after every scenario run.
const adjacentRawMax = 50_000

func (b *bench) runRaw(ctx context.Context, r *runDB, sc scenario) (runResult, error) {
	loops, batch := claimShape(sc.Concurrency, b.cfg.conns)
	n, elapsed, err := rawBaseline(ctx, r.pool, b.cfg.checkpoint, sc.Tasks, loops, batch, func() {
		if b.pgss {
			_ = resetStatements(ctx, r.pool)
		}
		_ = r.measure(ctx) // an error fails the run in finishRun
	})
	if err != nil {
		return runResult{}, err
	}
	return runResult{Tasks: n, Seconds: elapsed.Seconds(), TasksPerSec: float64(n) / elapsed.Seconds(),
		P50Ms: -1, P95Ms: -1, P99Ms: -1}, nil
}

// claimShape is how a concurrency of c is split into claim loops (one connection each) and batch sizes,
// for the sql engine and the raw baseline alike.
func claimShape(c, conns int) (loops, batch int) {
	loops = max(1, min(c, conns))
	return loops, (c + loops - 1) / loops
}

func (b *bench) createQueue(ctx context.Context, pool *pgxpool.Pool) error {
	if _, err := pool.Exec(ctx, `SELECT pgtq.create_queue($1)`, benchQueue); err != nil {
		return fmt.Errorf("create queue: %w", err)
	}
	return nil
}

// runBurnDown pre-enqueues sc.Tasks tasks with the batch path, then lets sc.Workers worker processes drain
// them. Throughput counts archived (completed) tasks from the first claim to the last completion.
func (b *bench) runBurnDown(ctx context.Context, r *runDB, sc scenario) (runResult, error) {
	if err := b.createQueue(ctx, r.pool); err != nil {
		return runResult{}, err
	}
	if err := loadBacklog(ctx, sqlProducer{r.pool}, benchQueue, sc.Tasks, sc.Groups, 4, 2000); err != nil {
		return runResult{}, err
	}
	if err := prepareForRun(ctx, r.pool, b.cfg.checkpoint, queueTable("q")); err != nil {
		return runResult{}, err
	}
	if b.pgss {
		if err := resetStatements(ctx, r.pool); err != nil {
			return runResult{}, err
		}
	}
	if err := r.measure(ctx); err != nil {
		return runResult{}, err
	}
	var maxProc atomic.Int64
	samplerDone := make(chan struct{})
	sctx, stopSampler := context.WithCancel(ctx)
	if sc.Limit > 0 {
		go func() {
			defer close(samplerDone)
			sampleProcessing(sctx, r.pool, &maxProc)
		}()
	} else {
		close(samplerDone)
	}
	ws, err := startWorkers(sc.Workers, b.childOpts(r, sc))
	if err != nil {
		stopSampler()
		return runResult{}, err
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	err = ws.waitHandled(wctx, int64(sc.Tasks))
	if err == nil {
		err = waitQueueEmpty(wctx, r.pool)
	}
	stopSampler()
	<-samplerDone
	wres, stopErr := ws.stop(30 * time.Second)
	if err != nil {
		return runResult{}, err
	}
	if stopErr != nil {
		return runResult{}, stopErr
	}
	res := fromWorkers(wres)
	res.MaxProcessing = maxProc.Load()
	var lastArchived time.Time
	err = r.pool.QueryRow(ctx, `SELECT count(*), max(archived_at) FROM `+queueTable("a")).Scan(&res.Tasks, &lastArchived)
	if err != nil {
		return res, fmt.Errorf("count archived: %w", err)
	}
	res.ArchivedInSpan = res.Tasks
	first := firstStart(wres)
	res.Seconds = lastArchived.Sub(first).Seconds()
	if res.Seconds > 0 {
		res.TasksPerSec = float64(res.Tasks) / res.Seconds
	}
	if res.Tasks != int64(sc.Tasks) {
		return res, fmt.Errorf("archived %d tasks, enqueued %d", res.Tasks, sc.Tasks)
	}
	return res, nil
}

func firstStart(w *workerResult) time.Time {
	var first int64
	for _, r := range w.reports {
		if r.FirstStart > 0 && (first == 0 || r.FirstStart < first) {
			first = r.FirstStart
		}
	}
	return time.Unix(0, first)
}

// fromWorkers sums the workers' reports: latency histograms merged, violations added up.
func fromWorkers(w *workerResult) runResult {
	res := runResult{WorkerRSSMiB: float64(w.maxRSSKiB) / 1024}
	h := newHistogram()
	for _, r := range w.reports {
		if r.Hist != nil {
			h.merge(r.Hist)
		}
		res.MaxInflight += r.MaxInflight
		res.GroupOverlaps += r.Overlaps
		res.OrderErrors += r.OrderErrors
	}
	ms := func(q float64) float64 {
		if v := h.quantile(q); v >= 0 {
			return float64(v) / 1000
		}
		return -1
	}
	res.P50Ms, res.P95Ms, res.P99Ms = ms(0.50), ms(0.95), ms(0.99)
	return res
}

// sampleProcessing records the largest number of tasks the database shows as processing (claimed, lease
// still running), sampled every 20 ms: the queue concurrency limit must hold it down.
func sampleProcessing(ctx context.Context, pool *pgxpool.Pool, maxProc *atomic.Int64) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	// now() rather than clock_timestamp(): a stable value can be an index condition on the vt index, so the
	// sample costs O(leased tasks) instead of a scan of the whole backlog that would slow the run it observes.
	q := `SELECT count(*) FROM ` + queueTable("q") + ` WHERE vt > now() AND read_ct > 0`
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		var n int64
		if pool.QueryRow(ctx, q).Scan(&n) == nil && n > maxProc.Load() {
			maxProc.Store(n)
		}
	}
}

// waitQueueEmpty polls until the queue table holds no task: the last completions are committed.
func waitQueueEmpty(ctx context.Context, pool *pgxpool.Pool) error {
	for {
		var left bool
		if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+queueTable("q")+`)`).Scan(&left); err != nil {
			return fmt.Errorf("wait for empty queue: %w", err)
		}
		if !left {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for empty queue: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// runContinuous keeps producers enqueueing batches of 100 while the backlog is below a small target (or
// sc.ProducerBatch while it is below sc.Backlog), for sc.Duration, with the workers running. Throughput counts tasks archived inside the measured window
// (after a warm-up); latency is enqueue-to-start of tasks enqueued inside it.
func (b *bench) runContinuous(ctx context.Context, r *runDB, sc scenario) (runResult, error) {
	warm := min(sc.Duration/6, 5*time.Second)
	t0, ws, prod, done, err := b.startLive(ctx, r, sc, warm)
	if err != nil {
		return runResult{}, err
	}
	defer done()
	// Enough backlog for every slot four times over plus what the workers finish between two progress
	// reports at 40k tasks/s: the worker never starves while the producers learn of its progress, and the
	// enqueue-to-start latency stays a measure of the queue rather than of a deep backlog.
	target, size := int64(4*sc.Concurrency+100), 100
	if sc.Backlog > 0 {
		target = int64(sc.Backlog)
	}
	if sc.ProducerBatch > 0 {
		size = sc.ProducerBatch
	}
	var enqueued atomic.Int64
	end := t0.Add(sc.Duration)
	errc := make(chan error, 2)
	for range 2 {
		go func() {
			batch := make([]benchPayload, size)
			for time.Now().Before(end) {
				done, changed := ws.progress()
				if enqueued.Load()-done >= target {
					select {
					case <-changed:
					case <-time.After(100 * time.Millisecond):
					case <-ctx.Done():
						errc <- ctx.Err()
						return
					}
					continue
				}
				now := time.Now().UnixNano()
				for i := range batch {
					batch[i] = benchPayload{T: now, S: int64(i)}
				}
				if err := prod.enqueueBatch(ctx, benchQueue, batch, nil); err != nil {
					errc <- err
					return
				}
				enqueued.Add(int64(len(batch)))
			}
			errc <- nil
		}()
	}
	var perr error
	for range 2 {
		if err := <-errc; err != nil && perr == nil {
			perr = err
		}
	}
	wres, stopErr := ws.stop(30 * time.Second)
	if perr != nil {
		return runResult{}, perr
	}
	if stopErr != nil {
		return runResult{}, stopErr
	}
	res := fromWorkers(wres)
	err = r.pool.QueryRow(ctx, `SELECT count(*) FROM `+queueTable("a")+` WHERE archived_at >= $1 AND archived_at < $2`,
		t0.Add(warm), end).Scan(&res.Tasks)
	if err != nil {
		return res, fmt.Errorf("count archived: %w", err)
	}
	res.ArchivedInSpan = res.Tasks
	res.Seconds = (sc.Duration - warm).Seconds()
	res.TasksPerSec = float64(res.Tasks) / res.Seconds
	return res, nil
}

// startLive sets up a run whose producers enqueue while the workers run (continuous, latency): it creates
// the queue, starts measuring, starts the workers (recording enqueue-to-start from t0+warm on) and connects
// the producers. done closes the producers' pool; the caller stops the workers.
func (b *bench) startLive(ctx context.Context, r *runDB, sc scenario, warm time.Duration) (
	t0 time.Time, ws *workerSet, prod producer, done func(), err error) {
	if err := b.createQueue(ctx, r.pool); err != nil {
		return t0, nil, nil, nil, err
	}
	if err := r.measure(ctx); err != nil {
		return t0, nil, nil, nil, err
	}
	t0 = time.Now()
	o := b.childOpts(r, sc)
	o.RecordAfter = t0.Add(warm).UnixNano()
	ws, err = startWorkers(sc.Workers, o)
	if err != nil {
		return t0, nil, nil, nil, err
	}
	ppool, err := b.producerPool(ctx, r)
	if err != nil {
		ws.kill()
		return t0, nil, nil, nil, err
	}
	return t0, ws, b.prod(ppool), ppool.Close, nil
}

// runLatency enqueues single tasks at sc.Rate per second for sc.Duration against an idle worker and
// reports enqueue-to-start latency (after a 1 s warm-up that lets the worker connect and listen).
func (b *bench) runLatency(ctx context.Context, r *runDB, sc scenario) (runResult, error) {
	warm := time.Second
	t0, ws, prod, done, err := b.startLive(ctx, r, sc, warm)
	if err != nil {
		return runResult{}, err
	}
	defer done()
	// Each tick's enqueue runs on its own goroutine (at most 32 at once, the pool's size): one commit with
	// fsync can take longer than the 5 ms between ticks, and a slow enqueue must not lower the rate.
	tick := time.NewTicker(time.Second / time.Duration(sc.Rate))
	end := t0.Add(warm + sc.Duration)
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	var n int64
	var failed atomic.Pointer[error]
	var perr error
	var encMu sync.Mutex
	enq := newHistogram()
	for perr == nil && time.Now().Before(end) {
		select {
		case <-ctx.Done():
			perr = ctx.Err()
		case <-tick.C:
			sem <- struct{}{}
			wg.Add(1)
			go func(seq int64) {
				defer wg.Done()
				defer func() { <-sem }()
				start := time.Now()
				if err := prod.enqueueOne(ctx, benchQueue, benchPayload{T: start.UnixNano(), S: seq}); err != nil {
					failed.CompareAndSwap(nil, &err)
				}
				encMu.Lock()
				enq.record(time.Since(start).Microseconds())
				encMu.Unlock()
			}(n)
			n++
		}
		if e := failed.Load(); e != nil {
			perr = *e
		}
	}
	tick.Stop()
	wg.Wait()
	if e := failed.Load(); e != nil && perr == nil {
		perr = *e
	}
	if perr == nil {
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		perr = ws.waitHandled(wctx, n)
		cancel()
	}
	wres, stopErr := ws.stop(30 * time.Second)
	if perr != nil {
		return runResult{}, perr
	}
	if stopErr != nil {
		return runResult{}, stopErr
	}
	res := fromWorkers(wres)
	res.EnqueueP50Ms = float64(enq.quantile(0.5)) / 1000
	res.EnqueueP99Ms = float64(enq.quantile(0.99)) / 1000
	res.Tasks = n
	res.Seconds = time.Since(t0).Seconds()
	res.TasksPerSec = -1
	return res, nil
}

// median returns the median of xs (the middle one of an odd count, the mean of the middle two otherwise).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
