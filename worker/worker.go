// Package worker runs PGTQ tasks: typed processors (NewProcessor), a worker pool (New, Run) that claims
// tasks through the driver, wakes up on LISTEN/NOTIFY and on the earliest delayed task, prunes archives
// on its own schedule and shuts down gracefully, and Main, the CLI of a user's worker binary.
//
//	p := worker.NewProcessor("emails", func(ctx context.Context, e Email) error { return send(ctx, e) },
//		&worker.ProcessorOptions{MaxRetries: 3, RetryDelay: worker.ExponentialDelay(time.Second, time.Minute, 0.2)})
//	w, err := worker.New(client, &worker.Options{Processors: []*worker.Processor{p}, ConcurrencyLimit: 8})
//	err = w.Run(ctx) // blocks until ctx ends, then drains
//
// Every state change is one call of a pgtq SQL function; the worker never writes SQL itself.
//
// Throughput: tasks run on long-lived goroutines, one per slot (started as needed, at most ConcurrencyLimit,
// ended by shutdown), not on a new goroutine each. A slot is free as soon as its handler returns. The claim
// loop reads up to the free slots in one pgtq.read, waiting a moment (claimLinger) for half of the slots to
// free up while others still run. Successful tasks wait for their completion (the array form of
// pgtq.complete): the next read of their queue takes them along, completing them and claiming their
// successors in one transaction and one commit (driver.CompleteAndRead); a completer on its own pool
// connection commits those that no read took within a few ms (see pendingCompletions.takeDue), as when the
// queue has run dry or a failed read handed them back. Up to claimsInFlightMax reads run at
// once (one per grouped queue), so the slots freed during one read's round trip and commit are claimed by the
// next instead of waiting for it (SKIP LOCKED keeps the reads apart; strict groups and queue limits are
// enforced by the database). The next due time of delayed work is looked up after a short read, at most every
// dueRefresh, instead of after every short read.
//
// Failures: completions, failures and releases that hit a transient database error (connection lost, server
// restarting, serialization failure) are retried with backoff until they succeed or the task's lease ends
// (or ShutdownTimeout passes, at shutdown), so a database blip does not run finished work again. A crash
// costs the running tasks one lost lease each (ProcessorOptions.MaxLostLeases), not a retry.
//
// Observing: Options.Hooks and ProcessorOptions.Hooks receive lifecycle events (HookFunc, Event), and
// Options.Middleware and ProcessorOptions.Middleware wrap every handler call (Middleware); Worker.SlotsInUse
// reports the running handlers. Package github.com/pgtq/pgtq/metrics turns them into Prometheus metrics, and
// its Main is this package's Main with --metrics-addr. Package github.com/pgtq/pgtq/pgtqtest runs handlers
// against a test database, and ContextWithTask gives a handler its TaskInfo in a unit test without one.
package worker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pgtq/pgtq/driver"
)

// Defaults of Options.
const (
	// ConcurrencyLimitDefault is the number of tasks one worker runs at once.
	ConcurrencyLimitDefault = 1
	// PollIntervalDefault is the fallback poll period; LISTEN/NOTIFY and the due-time timer do the real work.
	PollIntervalDefault = time.Second
	// PollExceptionIntervalDefault is the first wait after a failed claim; repeated errors back off from it.
	PollExceptionIntervalDefault = 5 * time.Second
	// PruneIntervalDefault is how often each queue's archives are pruned (once per interval per fleet).
	PruneIntervalDefault = 12 * time.Hour
	// PruneDisabled, as Options.PruneInterval, turns pruning off.
	PruneDisabled time.Duration = -1
	// PruneBatchSizeDefault is the number of archived rows deleted per batch.
	PruneBatchSizeDefault = 1000
	// ArchiveRetentionDefault is how long archived tasks are kept before pruning deletes them.
	ArchiveRetentionDefault = 7 * 24 * time.Hour
	// ShutdownTimeoutDefault is how long Run waits for running tasks after its ctx ends.
	ShutdownTimeoutDefault = 30 * time.Second
)

// ackTimeout bounds one complete/fail/release call.
const ackTimeout = 10 * time.Second

const (
	// claimBatchMax caps the slots one claim waits to fill: with many slots, claiming once half of them
	// (at most this many) are free turns many tiny reads into few larger ones.
	claimBatchMax = 100
	// claimLinger is how long a freed slot may wait for others before the worker claims anyway.
	claimLinger = 2 * time.Millisecond
	// dueRefresh is how often, at most, the worker looks up the earliest due time (delayed task or retry)
	// of a queue whose reads come back short. Delays are whole seconds, so a lookup this late still sees a
	// new delayed task before it falls due; retries this worker schedules are known without a lookup.
	dueRefresh = 250 * time.Millisecond
	// claimsInFlightMax is how many reads one worker runs at once. A read of a no-op workload takes about
	// as long as its tasks, so with one read at a time the slots freed during it sat idle until it returned.
	claimsInFlightMax = 2
	// PoolConnsMin is the least pgxpool MaxConns a worker needs to run its reads (claimsInFlightMax),
	// complete and record failures side by side (one connection each); handlers that use the same pool
	// need theirs on top. The worker's LISTEN connection is its own, outside the pool. New logs a warning
	// when the pool is smaller.
	PoolConnsMin = claimsInFlightMax + 2
)

// Options configures a Worker. A nil *Options means all defaults (and no processors, which New refuses).
//
// Connections: the worker claims on one connection of the client's pool while its completer commits
// finished tasks on another, and failures, releases, heartbeats and pruning take one each while they
// run; so the pool needs at least PoolConnsMin connections plus whatever the handlers use of it (New warns
// when MaxConns is lower). pgxpool's default MaxConns is max(4, runtime.NumCPU()); Main sizes its own pool
// to ConcurrencyLimit + PoolConnsMin + 1 (up to 64). The LISTEN connection is separate, outside the pool.
type Options struct {
	// Processors are the queues this worker serves, at most one processor per queue. Required.
	Processors []*Processor

	// ConcurrencyLimit is the number of tasks this worker runs at once, shared by all its processors. The
	// worker claims at most as many tasks as it has free slots, so it never holds a task it cannot start.
	// A slot frees when the handler returns; the task's completion commits in a batch shortly after.
	// Defaults to ConcurrencyLimitDefault (1).
	ConcurrencyLimit int

	// PollInterval is the fallback poll period for work whose notification was lost. Wake-ups normally
	// come from LISTEN/NOTIFY and from a timer set to the earliest delayed task or retry. Defaults to
	// PollIntervalDefault (1 s).
	PollInterval time.Duration

	// PollExceptionInterval is the wait before claiming again after a database error; repeated errors
	// double it (up to 12x) with jitter. Defaults to PollExceptionIntervalDefault (5 s).
	PollExceptionInterval time.Duration

	// PruneInterval is how often archived tasks older than ArchiveRetention are deleted from each queue's
	// archive and its DLQ's archive. Across all workers, each queue is pruned at most once per interval.
	// PruneDisabled (any negative value) turns pruning off. Defaults to PruneIntervalDefault (12 h).
	PruneInterval time.Duration

	// PruneBatchSize is the number of rows pruning deletes per batch (it loops until done). Defaults to
	// PruneBatchSizeDefault (1000).
	PruneBatchSize int

	// ArchiveRetention is the age after which archived tasks are pruned. Defaults to
	// ArchiveRetentionDefault (7 days).
	ArchiveRetention time.Duration

	// ShutdownTimeout is how long Run lets running tasks finish after its ctx ends; then their ctx is
	// cancelled and unfinished tasks are released back to the queue with their attempt not counted.
	// Defaults to ShutdownTimeoutDefault (30 s).
	ShutdownTimeout time.Duration

	// Logger receives the worker's logs. Defaults to slog.Default().
	Logger *slog.Logger

	// CreateMissingQueues makes Run create (driver.Client.CreateQueue, with a DLQ) the processors' queues
	// that do not exist, instead of failing with driver.ErrQueueNotFound. Creating a queue needs the
	// pgtq_admin role. Defaults to false.
	CreateMissingQueues bool

	// Hooks receive every processor's lifecycle events (claimed, completed, failed, dead-lettered, lease
	// lost; see HookFunc), before the processor's own ProcessorOptions.Hooks, each list in order. They run
	// on the worker's goroutines and must not block. With none registered the worker builds no events.
	// Defaults to none.
	Hooks []HookFunc

	// Middleware wraps every handler call (the first element outermost), outside the processor's own
	// ProcessorOptions.Middleware. With none the handler is called directly. Defaults to none.
	Middleware []Middleware
}

func (o *Options) validate() error {
	switch {
	case len(o.Processors) == 0:
		return errors.New("Options.Processors is empty")
	case o.ConcurrencyLimit < 0:
		return fmt.Errorf("Options.ConcurrencyLimit must be >= 1 (0 means the default), got %d", o.ConcurrencyLimit)
	case o.PollInterval < 0:
		return fmt.Errorf("Options.PollInterval must be > 0 (0 means the default), got %s", o.PollInterval)
	case o.PollExceptionInterval < 0:
		return fmt.Errorf("Options.PollExceptionInterval must be > 0 (0 means the default), got %s", o.PollExceptionInterval)
	case o.PruneBatchSize < 0:
		return fmt.Errorf("Options.PruneBatchSize must be >= 1 (0 means the default), got %d", o.PruneBatchSize)
	case o.ArchiveRetention < 0:
		return fmt.Errorf("Options.ArchiveRetention must be >= 0, got %s", o.ArchiveRetention)
	case o.ShutdownTimeout < 0:
		return fmt.Errorf("Options.ShutdownTimeout must be >= 0, got %s", o.ShutdownTimeout)
	}
	seen := map[string]bool{}
	for i, p := range o.Processors {
		if p == nil {
			return fmt.Errorf("Options.Processors[%d] is nil", i)
		}
		if p.err != nil {
			return fmt.Errorf("processor %q: %w", p.queue, p.err)
		}
		if seen[p.queue] {
			return fmt.Errorf("Options.Processors: two processors for queue %q", p.queue)
		}
		seen[p.queue] = true
	}
	return nil
}

// Worker claims and runs tasks for its processors. Create it with New; Run it once.
type Worker struct {
	client *driver.Client
	opts   Options
	log    *slog.Logger
	procs  []*procState

	wake    chan struct{} // buffered(1): something may have changed, re-evaluate
	ready   chan struct{} // closed when the listener first listens on every channel
	readyMu sync.Once
	started atomic.Bool

	listening atomic.Bool           // the listener connection is up; polling may relax
	channels  map[string]*procState // NOTIFY channel -> processor, looked up by Run before it starts

	// shutdownDeadline is set when Run's ctx ends: ShutdownTimeout later, acknowledgements stop retrying.
	shutdownDeadline atomic.Pointer[time.Time]

	completions chan completion    // to the completer
	pending     pendingCompletions // taken from completions, not yet sent (see completer)
	pendingBack chan struct{}      // buffered(1): a read gave completions back to the completer

	claimed  chan claimResult // reads in flight report here (capacity claimsInFlightMax: never blocks)
	claims   sync.WaitGroup   // reads in flight
	inFlight int              // reads in flight; dispatcher goroutine only

	mu        sync.Mutex
	free      int       // free task slots
	freeSince time.Time // when a finishing task first freed a slot since the last claim; zero when none
	running   map[*running]struct{}
	tasks     sync.WaitGroup // tasks started and not yet finished (outcome handed over or abandoned)
	idle      []*slot        // slots waiting for a task, the most recently used last
	slotsMade int            // slots started so far: ConcurrencyLimit at most, plus one per abandoned handler
	slots     sync.WaitGroup // slot goroutines in the pool (an abandoned handler's goroutine leaves it)
}

// slot runs tasks one after another on one long-lived goroutine (runSlot). Starting a goroutine per task
// cost more than the no-op task itself: the goroutine, and its stack grown again from 2 KiB by every
// task (payload decoding alone grows it several times). A slot is idle (in Worker.idle) or runs the task
// that holds one of the worker's free slots, so there are at most ConcurrencyLimit of them.
type slot struct {
	next chan *running // buffered(1): start hands the slot its next task without waiting for it; Run closes it
}

// procState is the dispatcher's view of one processor.
type procState struct {
	p        *Processor
	readOpts *driver.ReadOptions // fixed per processor: built once, not on every claim
	dirty    atomic.Bool         // there may be claimable work
	// backlog: the last read came back full, so another read follows as soon as slots are free; the
	// completer leaves this queue's completions to it for up to completeHold (see pendingCompletions.takeDue).
	backlog atomic.Bool
	// Guarded by Worker.mu:
	due time.Time // earliest known future vt (delayed task or retry); zero when none
	// Used by the dispatcher goroutine only:
	errs       int
	retryAt    time.Time
	dueChecked time.Time // last NextDue lookup
	dueStale   bool      // a short read skipped the lookup: do it at dueChecked + dueRefresh
	reads      int       // reads of this queue in flight
	lastFull   bool      // the last read of this queue that returned filled all its slots
}

// New returns a worker for client's database with opts. It validates the options and the processors.
func New(client *driver.Client, opts *Options) (*Worker, error) {
	if client == nil {
		return nil, errors.New("worker: client is nil")
	}
	o := Options{}
	if opts != nil {
		o = *opts
	}
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	o.ConcurrencyLimit = cmp.Or(o.ConcurrencyLimit, ConcurrencyLimitDefault)
	o.PollInterval = cmp.Or(o.PollInterval, PollIntervalDefault)
	o.PollExceptionInterval = cmp.Or(o.PollExceptionInterval, PollExceptionIntervalDefault)
	o.PruneInterval = cmp.Or(o.PruneInterval, PruneIntervalDefault)
	o.PruneBatchSize = cmp.Or(o.PruneBatchSize, PruneBatchSizeDefault)
	o.ArchiveRetention = cmp.Or(o.ArchiveRetention, ArchiveRetentionDefault)
	o.ShutdownTimeout = cmp.Or(o.ShutdownTimeout, ShutdownTimeoutDefault)
	o.Logger = cmp.Or(o.Logger, slog.Default())
	w := &Worker{
		client:  client,
		opts:    o,
		log:     o.Logger,
		wake:    make(chan struct{}, 1),
		ready:   make(chan struct{}),
		free:    o.ConcurrencyLimit,
		running: map[*running]struct{}{},

		// Room for a few flushes' worth: executors block (backpressure) only when the completer lags far behind.
		completions: make(chan completion, max(2*o.ConcurrencyLimit, completeBatchMax)),
		pendingBack: make(chan struct{}, 1),
		claimed:     make(chan claimResult, claimsInFlightMax),
	}
	if n := client.Pool().Config().MaxConns; n < PoolConnsMin {
		w.log.Warn("pgtq: pool too small for the worker: claims, completions and failures will wait on each other",
			"max_conns", n, "want_at_least", PoolConnsMin)
	}
	for _, p := range o.Processors {
		w.procs = append(w.procs, &procState{p: p, readOpts: &driver.ReadOptions{
			LIFO:             p.opts.LIFO,
			Grouped:          p.opts.Grouped,
			ConcurrencyLimit: p.opts.ConcurrencyLimit,
			MaxLostLeases:    p.opts.MaxLostLeases,
		}})
	}
	return w, nil
}

// SlotsInUse returns the number of tasks whose handlers are running now (at most ConcurrencyLimit). Safe
// to call from any goroutine, e.g. a metrics scrape.
func (w *Worker) SlotsInUse() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.running)
}

// hooked reports whether any lifecycle hook would see an event of ps.
func (w *Worker) hooked(ps *procState) bool {
	return len(w.opts.Hooks) > 0 || len(ps.p.opts.Hooks) > 0
}

// emit runs the hooks for e: the worker's, then the processor's. Callers check hooked first, so that no
// event is built when nobody listens.
func (w *Worker) emit(ctx context.Context, ps *procState, e Event) {
	for _, h := range w.opts.Hooks {
		h(ctx, e)
	}
	for _, h := range ps.p.opts.Hooks {
		h(ctx, e)
	}
}

// Ready is closed once the worker listens for notifications on every processor's queue, i.e. from then
// on new work wakes it at once. Useful in tests and readiness probes.
func (w *Worker) Ready() <-chan struct{} { return w.ready }

// signal asks the dispatcher to look again without blocking.
func (w *Worker) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run claims and runs tasks until ctx ends, then shuts down: it stops claiming, waits up to
// ShutdownTimeout for running tasks, cancels the rest and releases them, and flushes the pending
// acknowledgements. It returns nil after a clean shutdown. A Worker runs once.
//
// Before anything starts (and before Ready), Run checks that every processor's queue exists: it fails
// with an error matching driver.ErrQueueNotFound that names every missing queue, unless
// Options.CreateMissingQueues is set, in which case it creates them.
func (w *Worker) Run(ctx context.Context) error {
	if !w.started.CompareAndSwap(false, true) {
		return errors.New("worker: Run called twice")
	}
	if err := w.prepare(ctx); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return nil
	}
	// Handlers get a ctx that outlives Run's ctx: shutdown cancels each one (cancelRunning) only after
	// ShutdownTimeout. The parent cannot be cancelled, so that a handler's ctx does not register with it.
	taskCtx := context.WithoutCancel(ctx)
	stopDeadline := context.AfterFunc(ctx, func() {
		d := time.Now().Add(w.opts.ShutdownTimeout)
		w.shutdownDeadline.Store(&d)
	})
	defer stopDeadline()

	var bg sync.WaitGroup
	bg.Go(func() { w.listen(ctx) })
	if w.opts.PruneInterval > 0 {
		bg.Go(func() { w.prune(ctx) })
	}
	// The completer outlives ctx: tasks finishing during shutdown still complete through it.
	stopCompleter := make(chan struct{})
	bg.Go(func() { w.completer(stopCompleter) })

	w.dispatch(ctx, taskCtx)
	w.shutdown()
	// Every task's outcome has been handed over (a handler that ignores cancellation is abandoned within
	// the lease's grace), so the completer's last flush sees every completion.
	w.tasks.Wait()
	w.stopSlots()
	close(stopCompleter)
	bg.Wait()
	return nil
}

// prepare checks that every processor's queue exists (creating the missing ones with
// CreateMissingQueues) and looks up each queue's NOTIFY channel, all before Run starts anything. A
// transient database error is retried with backoff until ctx ends.
func (w *Worker) prepare(ctx context.Context) error {
	for tries := 1; ; tries++ {
		err := w.checkQueues(ctx)
		if err == nil || !driver.IsTransient(err) || ctx.Err() != nil {
			return err
		}
		wait := backoff(tries, w.opts.PollExceptionInterval, 12*w.opts.PollExceptionInterval)
		w.log.Warn("pgtq: start-up check failed; retrying", "error", err, "retry_in", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

func (w *Worker) checkQueues(ctx context.Context) error {
	var missing []string
	for _, ps := range w.procs {
		q := ps.p.queue
		// pgtq.next_due is the cheapest call a worker role may make that raises PQ001 for an unknown queue.
		_, _, err := w.client.NextDue(ctx, q)
		switch {
		case errors.Is(err, driver.ErrQueueNotFound) && w.opts.CreateMissingQueues:
			if err := w.client.CreateQueue(ctx, q, nil); err != nil {
				return fmt.Errorf("worker: %w", err)
			}
			w.log.Info("pgtq: created missing queue", "queue", q)
		case errors.Is(err, driver.ErrQueueNotFound):
			missing = append(missing, strconv.Quote(q))
		case err != nil && ctx.Err() != nil:
			return nil
		case err != nil:
			return fmt.Errorf("worker: check queue %q: %w", q, err)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("worker: %w: %s (create them, or set Options.CreateMissingQueues)",
			driver.ErrQueueNotFound, strings.Join(missing, ", "))
	}
	channels := make(map[string]*procState, len(w.procs))
	for _, ps := range w.procs {
		ch, err := w.client.NotifyChannel(ctx, ps.p.queue)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("worker: %w", err)
		}
		channels[ch] = ps
	}
	w.channels = channels
	return nil
}

// dispatch is the claim loop: it runs until ctx ends, and returns once no read is in flight any more (so
// that every task it started is known to shutdown).
func (w *Worker) dispatch(ctx, taskCtx context.Context) {
	defer w.claims.Wait()
	w.markAllDirty()
	timer := time.NewTimer(0)
	defer timer.Stop()
	nextPoll := time.Now()
	round := 0
	for {
		now := time.Now()
		if !now.Before(nextPoll) {
			w.markAllDirty()
			interval := w.opts.PollInterval
			if !w.listening.Load() {
				// Notifications are not arriving: poll more often until the listener is back.
				interval = min(interval, time.Second)
			}
			nextPoll = now.Add(interval)
		}
		w.mu.Lock()
		for _, ps := range w.procs {
			if !ps.due.IsZero() && !now.Before(ps.due) {
				ps.due = time.Time{}
				ps.dirty.Store(true)
			}
		}
		w.mu.Unlock()

		for _, ps := range w.procs {
			if ps.dueStale && !now.Before(ps.dueChecked.Add(dueRefresh)) {
				w.lookupDue(ctx, ps)
			}
		}

		next := nextPoll
		if wait := w.claimWait(now); wait > 0 {
			// A few slots are free while tasks still run: let more finish and claim them in one read.
			if at := now.Add(wait); at.Before(next) {
				next = at
			}
		} else {
			w.claim(ctx, taskCtx, round)
			round++
		}
		if ctx.Err() != nil {
			return
		}

		w.mu.Lock()
		for _, ps := range w.procs {
			if !ps.due.IsZero() && ps.due.Before(next) {
				next = ps.due
			}
			if ps.dirty.Load() && !ps.retryAt.IsZero() && ps.retryAt.Before(next) && w.free > 0 {
				next = ps.retryAt
			}
			if at := ps.dueChecked.Add(dueRefresh); ps.dueStale && at.Before(next) {
				next = at
			}
		}
		w.mu.Unlock()
		timer.Reset(max(time.Until(next), 0))
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		case <-timer.C:
		case res := <-w.claimed:
			w.claimFinished(ctx, res)
		}
	}
}

// markAllDirty marks every processor as possibly having work, so that the next claim looks at each once.
func (w *Worker) markAllDirty() {
	for _, ps := range w.procs {
		ps.dirty.Store(true)
	}
}

// claimWait returns how long the dispatcher should hold back a claim: only while some but fewer than
// max(1, min(ConcurrencyLimit/2, claimBatchMax)) slots are free, tasks are still running (they will free
// more), and the first of those slots was freed less than claimLinger ago. An idle worker claims at once.
func (w *Worker) claimWait(now time.Time) time.Duration {
	want := max(1, min(w.opts.ConcurrencyLimit/2, claimBatchMax))
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.free == 0 || w.free >= want || len(w.running) == 0 || w.freeSince.IsZero() {
		return 0
	}
	return max(claimLinger-now.Sub(w.freeSince), 0)
}

// claimResult is what one read reports to the dispatcher.
type claimResult struct {
	ps    *procState
	slots int   // the slots the read asked for
	got   int   // the tasks it claimed and started
	err   error // the read failed (its slots are free again)
}

// claim starts a read for every processor that may have work, as long as slots are free and fewer than
// claimsInFlightMax reads are running. Each read reports to claimFinished.
func (w *Worker) claim(ctx, taskCtx context.Context, round int) {
	n := len(w.procs)
	for i := range n {
		if w.inFlight >= claimsInFlightMax {
			return // a read that finishes reports and the dispatcher looks again
		}
		// Rotate the starting processor so that one busy queue cannot starve the others.
		ps := w.procs[(round+i)%n]
		if !ps.dirty.Load() || time.Now().Before(ps.retryAt) {
			continue
		}
		// A second read of a queue only while its last read came back full (a backlog to pipeline): a read
		// that is slow to return (waiting for the queue's limit lock, say) must not be joined by another that
		// would tie up the slots other queues could use. Never for a grouped queue: two grouped reads start
		// from the same idle groups, so the second mostly skips the first one's locked rows and comes back
		// short after paying for the whole candidate search (measured: at 50k groups, half the throughput).
		if ps.reads > 0 && (!ps.lastFull || ps.p.opts.Grouped) {
			continue
		}
		slots := w.reserve()
		if slots == 0 {
			return // a finishing task frees a slot and signals
		}
		// Clear before reading so that a notification arriving during the read marks it again.
		ps.dirty.Store(false)
		w.inFlight++
		ps.reads++
		w.claims.Go(func() { w.claimed <- w.read(ctx, taskCtx, ps, slots) })
	}
}

// read claims up to slots tasks of ps's queue and starts them; slots it did not fill are free again. It
// takes the queue's pending completions along (readCompleting).
func (w *Worker) read(ctx, taskCtx context.Context, ps *procState, slots int) claimResult {
	p := ps.p
	// The read is not cancelled by shutdown: a claim that committed while the client gave up would leave
	// tasks leased by nobody until their lease ends. Tasks claimed as shutdown began are released.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ackTimeout)
	// Leases end no earlier than lease after the read began, by the local clock.
	leaseEnd := time.Now().Add(p.lease)
	tasks, completed, done, err := w.readCompleting(rctx, ps, slots)
	cancel()
	if err == nil && ctx.Err() != nil {
		for _, t := range tasks {
			w.release(&running{info: TaskInfo{Queue: p.queue, MsgID: t.MsgID, Attempt: t.Attempt}, leaseEnd: leaseEnd})
		}
		tasks = nil
	}
	w.unreserve(slots - len(tasks))
	for _, t := range tasks {
		w.start(taskCtx, ps, t, leaseEnd)
	}
	if len(completed) > 0 {
		w.completed(ps, completed, done, false)
	}
	return claimResult{ps: ps, slots: slots, got: len(tasks), err: err}
}

// readCompleting claims up to slots tasks of ps's queue. When completions of the queue are pending, it
// sends them with the claim (driver.CompleteAndRead: one commit for both, where the completer would have
// committed them on its own a moment later) and returns them with the msg_ids completed. If that fails,
// nothing was completed (unless the connection was lost after the commit, which the completer's retry
// then recognises): the completions go back to the completer and the claim is made on its own.
func (w *Worker) readCompleting(ctx context.Context, ps *procState, slots int) (tasks []driver.Task,
	completed []completion, done []int64, err error) {
	p := ps.p
	w.collectCompletions()
	if items := w.pending.take(ps, completeBatchMax); len(items) > 0 {
		refs := make([]driver.TaskRef, len(items))
		for i, c := range items {
			refs[i] = c.ref
		}
		done, tasks, err = w.client.CompleteAndRead(ctx, p.queue, refs, slots, p.lease, ps.readOpts)
		if err == nil {
			return tasks, items, done, nil
		}
		unknown := ackRetryable(err, ctx.Err() != nil)
		for i := range items {
			items[i].retried = items[i].retried || unknown
		}
		w.requeueCompletions(items)
		if unknown {
			// As the completer's own retry would say (it retries these now).
			w.log.Warn("pgtq: complete failed; retrying", "queue", p.queue, "tasks", len(items), "error", err)
		} else {
			// A bad entry or a dropped queue: the completer's flush reports each task.
			w.log.Debug("pgtq: read with completions failed; claiming alone", "queue", p.queue, "error", err)
		}
		if ctx.Err() != nil {
			return nil, nil, nil, err
		}
	}
	tasks, err = w.client.Read(ctx, p.queue, slots, p.lease, ps.readOpts)
	return tasks, nil, nil, err
}

// claimFinished takes the report of a read on the dispatcher goroutine: it backs off after an error, marks
// a queue whose read came back full as having more work, and otherwise learns when its next delayed task or
// retry falls due.
func (w *Worker) claimFinished(ctx context.Context, res claimResult) {
	w.inFlight--
	ps := res.ps
	ps.reads--
	ps.lastFull = res.err == nil && res.got == res.slots
	ps.backlog.Store(ps.lastFull && ctx.Err() == nil)
	if res.err != nil {
		ps.dirty.Store(true)
		if ctx.Err() != nil {
			return
		}
		ps.errs++
		wait := backoff(ps.errs, w.opts.PollExceptionInterval, 12*w.opts.PollExceptionInterval)
		ps.retryAt = time.Now().Add(wait)
		w.log.Error("pgtq: claim failed", "queue", ps.p.queue, "error", res.err, "retry_in", wait)
		return
	}
	if ctx.Err() != nil {
		return
	}
	ps.errs, ps.retryAt = 0, time.Time{}
	if res.got == res.slots {
		ps.dirty.Store(true) // probably more waiting
		return
	}
	// Drained for now: learn when the next delayed task or retry falls due. The lookup is a round trip
	// that delays the next claim, and short reads come one after another (every finished task or
	// notification ends in one), so it runs at most every dueRefresh. A skipped lookup is not dropped:
	// the dispatcher does it once dueRefresh has passed, so that a delayed task announced meanwhile
	// still wakes the worker on time.
	if now := time.Now(); now.Sub(ps.dueChecked) < dueRefresh {
		ps.dueStale = true
		return
	}
	w.lookupDue(ctx, ps)
}

// lookupDue asks the database when the next delayed task or retry of ps's queue falls due and arranges
// a wake-up for then.
func (w *Worker) lookupDue(ctx context.Context, ps *procState) {
	ps.dueChecked, ps.dueStale = time.Now(), false
	due, ok, err := w.client.NextDue(ctx, ps.p.queue)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Warn("pgtq: next due lookup failed", "queue", ps.p.queue, "error", err)
		}
		return
	}
	if ok {
		w.setDue(ps, due)
	}
}

// setDue arranges a wake-up for ps at t unless an earlier one is pending.
func (w *Worker) setDue(ps *procState, t time.Time) {
	w.mu.Lock()
	if ps.due.IsZero() || t.Before(ps.due) {
		ps.due = t
	}
	w.mu.Unlock()
}

func (w *Worker) reserve() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := w.free
	w.free = 0
	w.freeSince = time.Time{}
	return n
}

func (w *Worker) unreserve(n int) {
	if n <= 0 {
		return
	}
	w.mu.Lock()
	w.free += n
	w.mu.Unlock()
}

// start runs one claimed task, whose lease ends at leaseEnd, on an idle slot, or on a new one while
// fewer than ConcurrencyLimit exist.
func (w *Worker) start(taskCtx context.Context, ps *procState, t driver.Task, leaseEnd time.Time) {
	p := ps.p
	lost := lostLeases(t.Headers)
	now := time.Now()
	r := &running{
		w:  w,
		p:  p,
		ps: ps,
		info: TaskInfo{
			Queue: p.queue, MsgID: t.MsgID, TaskID: t.TaskID, Attempt: t.Attempt, GroupKey: t.GroupKey,
			EnqueuedAt: t.EnqueuedAt, StartedAt: now, Headers: t.Headers,
			LostLeases: lost, Failures: max(t.Attempt-1-lost, 0),
		},
		payload:   t.Payload,
		leaseEnd:  leaseEnd,
		timeoutAt: now.Add(p.opts.Timeout),
	}
	// The ctx, its cancel and the timer exist before r is running: shutdown may cancel it at once.
	hctx, cancel := context.WithCancelCause(taskCtx)
	hctx = context.WithValue(hctx, taskCtxKey{}, r)
	// A handler that completes its own task (CompleteTx inside its transaction) tells the worker so.
	r.ctx = driver.WithCompleteHook(hctx, func(queue string, ref driver.TaskRef) {
		if queue == r.info.Queue && ref.MsgID == r.info.MsgID && ref.Attempt == r.info.Attempt {
			r.completedByHandler.Store(true)
		}
	})
	r.cancel = cancel
	r.mu.Lock() // the timer may fire before AfterFunc returns: onTimer waits for r.timer
	r.timer = time.AfterFunc(p.opts.Timeout, r.onTimer)
	r.mu.Unlock()

	w.tasks.Add(1)
	w.mu.Lock()
	w.running[r] = struct{}{}
	// Every slot is idle or runs a task holding one of the ConcurrencyLimit slots, and this task holds
	// one that no slot runs yet: so with none idle, fewer than ConcurrencyLimit slots exist.
	var s *slot
	if n := len(w.idle); n > 0 {
		s = w.idle[n-1]
		w.idle = w.idle[:n-1]
	} else {
		w.slotsMade++
	}
	w.mu.Unlock()
	if s != nil {
		s.next <- r
		return
	}
	s = &slot{next: make(chan *running, 1)}
	w.slots.Add(1)
	go w.runSlot(s, r)
}

// runSlot runs r and then every task start hands to s, until Run stops the idle slots (stopSlots). A slot
// whose handler was abandoned has already left the pool (abandon): it exits when the handler returns.
func (w *Worker) runSlot(s *slot, r *running) {
	for r != nil {
		if !w.execute(s, r) {
			return
		}
		r = s.await()
	}
	w.slots.Done()
}

// stopSlots ends the slot goroutines once every task finished (so no task starts any more, and every slot
// left in the pool is idle) and waits for them.
func (w *Worker) stopSlots() {
	w.mu.Lock()
	idle := w.idle
	w.idle = nil
	w.mu.Unlock()
	for _, s := range idle {
		close(s.next)
	}
	w.slots.Wait()
}

// slotStackKeep is the stack frame in which an idle slot waits for its next task (see await).
const slotStackKeep = 4 << 10

// await returns the next task start hands s, or nil once stopSlots closed s.next.
//
// The GC halves the stack of a goroutine that uses less than a quarter of it, and the next task grows it
// again, copying it each time: with idle slots waiting in a small frame, the profile of a no-op task
// showed as much stack copying as when every task had a new goroutine. Waiting in a frame of
// slotStackKeep bytes keeps a stack of up to 4*slotStackKeep (16 KiB) as the tasks grew it.
//
//go:noinline
func (s *slot) await() *running {
	var keep [slotStackKeep]byte
	holdStack(keep[:])
	return <-s.next
}

// holdStack keeps its argument on the caller's stack: not inlined, the array is not optimised away.
//
//go:noinline
func holdStack([]byte) {}

// execute runs the handler of r on the slot's goroutine and records the outcome, unless the handler
// was abandoned meanwhile (see running.onTimer); it reports whether the slot is idle again.
func (w *Worker) execute(s *slot, r *running) bool {
	if w.hooked(r.ps) {
		w.emit(r.ctx, r.ps, Event{Kind: EventClaimed, Task: r.info})
	}
	err := w.call(r)
	r.mu.Lock()
	if r.abandoned {
		r.mu.Unlock()
		return false
	}
	r.returned = true
	r.timer.Stop()
	r.mu.Unlock()
	w.finish(r, err, s)
	return true
}

// call runs the handler of r under the middleware and turns a panic into a PanicError.
func (w *Worker) call(r *running) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	p := r.p
	if len(w.opts.Middleware) == 0 && len(p.opts.Middleware) == 0 {
		return p.run(r.ctx, r.payload, r.info.TaskID)
	}
	return w.chain(p, r.info, func(ctx context.Context) error { return p.run(ctx, r.payload, r.info.TaskID) })(r.ctx)
}

// abandon records the outcome of r, whose handler ignored cancellation for the grace period, from r's
// timer goroutine. The handler's goroutine leaves the slot pool: it may never return.
func (w *Worker) abandon(r *running) {
	w.log.Warn("pgtq: handler ignored cancellation; abandoning it", "queue", r.p.queue,
		"msg_id", r.info.MsgID, "attempt", r.info.Attempt)
	w.finish(r, context.Cause(r.ctx), nil)
	w.slots.Done()
}

// finish records the outcome err of r's handler and frees r's slot, making s (nil for an abandoned
// handler) idle again.
func (w *Worker) finish(r *running, err error, s *slot) {
	w.outcome(r, err)
	// Whatever the handler started with its ctx stops now.
	r.cancel(nil)
	// The slot is free when the handler is done: its completion is committed by the completer,
	// concurrently with the next claim.
	w.mu.Lock()
	delete(w.running, r)
	w.free++
	if w.freeSince.IsZero() {
		w.freeSince = time.Now()
	}
	if s != nil {
		w.idle = append(w.idle, s)
	}
	w.mu.Unlock()
	w.tasks.Done()
	// A finished task may unblock its group or the queue's concurrency limit.
	r.ps.dirty.Store(true)
	w.signal()
}

// outcome records what became of r given its handler's result err: completion, failure, or (cancelled
// at shutdown) release.
func (w *Worker) outcome(r *running, err error) {
	ps := r.ps
	r.mu.Lock()
	released := r.released
	r.mu.Unlock()
	if released {
		return
	}
	if err != nil && r.ctx.Err() != nil {
		cause := context.Cause(r.ctx)
		switch {
		case errors.Is(cause, ErrTaskTimeout):
			if !errors.Is(err, ErrTaskTimeout) {
				err = fmt.Errorf("%w (handler returned: %v)", cause, err)
			}
		case errors.Is(cause, errShutdown):
			w.release(r)
			return
		}
	}

	if err == nil {
		if r.completedByHandler.Load() {
			// Completed by the handler's own CompleteTx, which committed (the handler returns nil only then):
			// no second acknowledgement.
			if w.hooked(ps) {
				w.emit(context.Background(), ps, Event{Kind: EventCompleted, Task: r.info, Duration: time.Since(r.info.StartedAt)})
			}
			return
		}
		// The handler is done: off the running set first, so that the completer does not linger for it.
		w.mu.Lock()
		delete(w.running, r)
		w.mu.Unlock()
		w.complete(ps, r, time.Since(r.info.StartedAt))
		return
	}
	w.fail(ps, r, err)
}

// chain wraps call (the handler) in the processor's middleware, then the worker's, outermost first.
func (w *Worker) chain(p *Processor, info TaskInfo, call func(context.Context) error) func(context.Context) error {
	for _, list := range [][]Middleware{p.opts.Middleware, w.opts.Middleware} {
		for i := len(list) - 1; i >= 0; i-- {
			m, next := list[i], call
			call = func(ctx context.Context) error { return m(ctx, info, next) }
		}
	}
	return call
}

// fail records the failed attempt of r (retried while the database is unreachable, see ack.go) and
// logs the outcome: a retry at INFO, a task dead-lettered or failed for good at WARN.
func (w *Worker) fail(ps *procState, r *running, err error) {
	p := r.p
	// Built only here: the success path is the hot one and logs nothing.
	log := w.log.With("queue", p.queue, "msg_id", r.info.MsgID, "attempt", r.info.Attempt)
	retryable := p.retryable(err)
	delay := p.retryDelay(r.info.Attempt)
	text := err.Error()
	var pe *PanicError
	if errors.As(err, &pe) {
		text += "\n" + string(pe.Stack[:min(len(pe.Stack), 2000)])
	}
	var outcome driver.FailOutcome
	tries, ferr := w.retryAck(func() time.Time { return w.ackDeadline(r.lease()) }, log, "recording failure",
		func(ctx context.Context) error {
			var err error
			outcome, err = w.client.Fail(ctx, p.queue, r.info.MsgID, r.info.Attempt, text, &driver.FailOptions{
				NonRetryable: !retryable,
				MaxRetries:   p.opts.MaxRetries,
				RetryDelay:   delay,
			})
			return err
		})
	if w.hooked(ps) {
		w.failEvents(ps, r, err, outcome, ferr)
	}
	switch {
	case ferr != nil:
		log.Error("pgtq: recording failure failed; the task will run again after its lease", "error", ferr,
			"task_error", err, "tries", tries)
	case outcome == driver.FailRetrying:
		log.Info("pgtq: task failed; retrying", "error", err, "retry_in", ceilSecond(delay))
		// Wake up when the retry falls due; the database rounds the delay up to whole seconds.
		w.setDue(ps, time.Now().Add(ceilSecond(delay)))
	case outcome == driver.FailDeadLettered:
		log.Warn("pgtq: task failed; dead-lettered", "error", err, "retryable", retryable)
	case outcome == driver.FailFailed:
		log.Warn("pgtq: task failed for good (the queue has no DLQ)", "error", err, "retryable", retryable)
	case outcome == driver.FailLeaseLost && r.completedByHandler.Load():
		log.Info("pgtq: handler returned an error after completing its task (CompleteTx); the error is not recorded",
			"error", err)
	case outcome == driver.FailLeaseLost && tries > 1 && time.Now().Before(r.lease()):
		log.Debug("pgtq: failure already recorded by a try whose reply was lost", "error", err)
	case outcome == driver.FailLeaseLost && tries > 1:
		log.Warn("pgtq: recording failure found the task gone: recorded by a try whose reply was lost, or lease lost",
			"error", err)
	default:
		log.Warn("pgtq: lease lost before the failure was recorded; another worker has the task", "error", err)
	}
}

// failEvents runs the hooks for the recorded failure of r: EventFailed with its outcome, then
// EventDeadLettered for a final one; EventLeaseLost when the lease was gone (EventCompleted when the
// handler had completed the task itself); nothing when the outcome could not be recorded at all.
func (w *Worker) failEvents(ps *procState, r *running, err error, outcome driver.FailOutcome, ferr error) {
	ctx, d := context.Background(), time.Since(r.info.StartedAt)
	switch {
	case ferr != nil:
	case outcome == driver.FailLeaseLost && r.completedByHandler.Load():
		w.emit(ctx, ps, Event{Kind: EventCompleted, Task: r.info, Duration: d})
	case outcome == driver.FailLeaseLost:
		w.emit(ctx, ps, Event{Kind: EventLeaseLost, Task: r.info, Duration: d, Err: err})
	default:
		w.emit(ctx, ps, Event{Kind: EventFailed, Task: r.info, Duration: d, Err: err, Outcome: string(outcome)})
		if outcome == driver.FailDeadLettered || outcome == driver.FailFailed {
			w.emit(ctx, ps, Event{Kind: EventDeadLettered, Task: r.info, Duration: d, Err: err, Outcome: string(outcome)})
		}
	}
}

// release gives the task of r back to the queue (its attempt does not count), once.
func (w *Worker) release(r *running) {
	r.mu.Lock()
	if r.released {
		r.mu.Unlock()
		return
	}
	r.released = true
	r.mu.Unlock()
	log := w.log.With("queue", r.info.Queue, "msg_id", r.info.MsgID, "attempt", r.info.Attempt)
	var ok bool
	tries, err := w.retryAck(func() time.Time { return w.ackDeadline(r.lease()) }, log, "release",
		func(ctx context.Context) error {
			var err error
			ok, err = w.client.Release(ctx, r.info.Queue, r.info.MsgID, r.info.Attempt)
			return err
		})
	switch {
	case err != nil:
		log.Error("pgtq: release failed; the task will run again after its lease", "error", err, "tries", tries)
	case !ok && tries > 1 && time.Now().Before(r.lease()):
		log.Debug("pgtq: task already released by a try whose reply was lost")
	case !ok:
		log.Warn("pgtq: lease lost before release")
	default:
		log.Info("pgtq: released unfinished task at shutdown")
	}
}

// ceilSecond rounds d up to whole seconds, as the database does with retry delays.
func ceilSecond(d time.Duration) time.Duration {
	return (d + time.Second - 1).Truncate(time.Second)
}

// shutdown waits for running tasks up to ShutdownTimeout, then cancels them and releases what is left.
func (w *Worker) shutdown() {
	done := make(chan struct{})
	go func() {
		w.tasks.Wait()
		close(done)
	}()
	w.mu.Lock()
	n := len(w.running)
	w.mu.Unlock()
	if n > 0 {
		w.log.Info("pgtq: shutting down, waiting for running tasks", "running", n, "timeout", w.opts.ShutdownTimeout)
	}
	timer := time.NewTimer(w.opts.ShutdownTimeout)
	defer timer.Stop()
	select {
	case <-done:
		return
	case <-timer.C:
	}
	w.log.Warn("pgtq: shutdown timeout passed, cancelling running tasks")
	w.cancelRunning(errShutdown)
	// Cancelled handlers return and their executors release them. Handlers that ignore cancellation are
	// released from here after a short wait so that their tasks are not stuck until the lease ends.
	select {
	case <-done:
		return
	case <-time.After(LeaseGraceMin / 2):
	}
	w.mu.Lock()
	left := make([]*running, 0, len(w.running))
	for r := range w.running {
		left = append(left, r)
	}
	w.mu.Unlock()
	for _, r := range left {
		w.release(r)
	}
}

// cancelRunning cancels the ctx of every running handler with cause. No task starts any more when it
// runs (dispatch has returned), so none is missed.
func (w *Worker) cancelRunning(cause error) {
	w.mu.Lock()
	list := make([]*running, 0, len(w.running))
	for r := range w.running {
		list = append(list, r)
	}
	w.mu.Unlock()
	for _, r := range list {
		r.stop(cause)
	}
}
