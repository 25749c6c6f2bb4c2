// Command demo runs PGTQ end to end against a PostgreSQL database and exits 0 when everything behaved:
//
//	PGTQ_DATABASE_URL=postgres://postgres@127.0.0.1:5432/demo go run ./examples/demo
//
// (DATABASE_URL or the PG* variables work too; `make demo` starts a throwaway cluster.) It migrates the
// database as the URL's user, and then works as production does, through login roles that are only members
// of PGTQ's roles (created or updated by the demo when that user may create roles, else it runs as the URL's
// user): pgtq_demo_admin creates three queues and reschedules, pgtq_demo_worker runs a worker with a processor
// for each, pgtq_demo_producer enqueues. Then it
//   - enqueues e-mails from Go with a typed queue: some fail once and are retried, some bounce with an
//     error that is not retried, one always fails and exhausts its retries, and one invalid payload
//     (inserted untyped, as a careless producer might) is dead-lettered without running; one DLQ entry
//     is rescheduled and then succeeds;
//   - inserts orders into an application table whose trigger enqueues a task per row in the same
//     transaction, grouped by customer: each customer's orders run strictly one at a time, in order;
//   - pushes a burst of feed items to a LIFO queue (one at a time), so they run newest first.
//
// It prints a progress line every half second and a per-queue summary at the end (completed, retried,
// dead-lettered, enqueue-to-start p50/p99).
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgtq/pgtq/driver"
	"github.com/pgtq/pgtq/migrate"
	"github.com/pgtq/pgtq/worker"
)

const (
	emailQueue = "demo_emails"
	orderQueue = "demo_orders"
	feedQueue  = "demo_feed"

	emails    = 40
	customers = 5
	orders    = 6 // per customer
	feedItems = 20
)

// Email is the payload of demo_emails.
type Email struct {
	To string `json:"to"`
	N  int    `json:"n"`
	// Key is filled by the worker with the task's stable id (ProcessorOptions.IdempotencyKey), e.g. for
	// the mail provider's idempotency header.
	Key string `json:"key,omitempty"`
}

// Validate refuses addresses without an @: such tasks never reach the handler.
func (e Email) Validate() error {
	if !strings.Contains(e.To, "@") {
		return fmt.Errorf("bad address %q", e.To)
	}
	return nil
}

// Order is the payload the trigger on demo_app_orders enqueues.
type Order struct {
	ID       int64  `json:"id"`
	Customer string `json:"customer"`
	Seq      int    `json:"seq"`
}

// FeedItem is the payload of demo_feed.
type FeedItem struct {
	N int `json:"n"`
}

var (
	errSMTPBusy = errors.New("smtp server busy")
	errBounced  = errors.New("mailbox does not exist")
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 50*time.Second)
	defer cancel()
	url := cmp.Or(os.Getenv("PGTQ_DATABASE_URL"), os.Getenv("DATABASE_URL"))
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer pool.Close()
	fmt.Println("migrating ...")
	if err := migrate.Up(ctx, pool); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	admin, err := roleClient(ctx, pool, "pgtq_admin")
	if err != nil {
		return err
	}
	if err := setup(ctx, admin, pool); err != nil {
		return err
	}
	producer, err := roleClient(ctx, pool, "pgtq_producer")
	if err != nil {
		return err
	}
	client, err := roleClient(ctx, pool, "pgtq_worker")
	if err != nil {
		return err
	}

	st := newStats(emailQueue, orderQueue, feedQueue)
	w, err := worker.New(client, &worker.Options{
		Processors:       []*worker.Processor{emailProcessor(st), orderProcessor(st), feedProcessor(st)},
		ConcurrencyLimit: 8,
		ShutdownTimeout:  5 * time.Second,
		Logger:           slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
	})
	if err != nil {
		return err
	}
	// The feed burst goes in before the worker starts, so LIFO order is visible from the first task.
	feed := make([]FeedItem, feedItems)
	for i := range feed {
		feed[i] = FeedItem{N: i + 1}
	}
	if _, err := driver.NewQueue[FeedItem](producer, feedQueue, nil).EnqueueBatch(ctx, feed, nil); err != nil {
		return err
	}

	wctx, stopWorker := context.WithCancel(ctx)
	defer stopWorker()
	done := make(chan error, 1)
	go func() { done <- w.Run(wctx) }()
	select {
	case <-w.Ready():
	case err := <-done:
		return fmt.Errorf("worker stopped early: %v", err)
	case <-ctx.Done():
		return fmt.Errorf("worker not listening: %w", ctx.Err())
	}
	fmt.Println("worker listening; enqueueing ...")
	if err := produce(ctx, producer); err != nil {
		return err
	}

	// Expected end state: see the package comment.
	const emailDLQ = 4         // two bounces, one exhausted, one invalid payload
	want := map[string][2]int{ // queue -> {completed, dead-lettered}
		emailQueue: {emails + 1 - emailDLQ + 1, emailDLQ},
		orderQueue: {customers * orders, 0},
		feedQueue:  {feedItems, 0},
	}
	rescheduled := false
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("demo did not finish: %w", ctx.Err())
		case <-tick.C:
		}
		dlq, err := admin.ListDLQ(ctx, emailQueue, 10)
		if err != nil {
			return err
		}
		fmt.Println(st.progress(dlq))
		if !rescheduled && len(dlq) == emailDLQ {
			// Reschedule the task that exhausted its retries: its new copy (same task id) succeeds.
			for _, e := range dlq {
				var mail Email
				if json.Unmarshal(e.Payload, &mail) == nil && mail.N == 13 {
					id, err := admin.Reschedule(ctx, emailQueue, e.MsgID)
					if err != nil {
						return err
					}
					fmt.Printf("rescheduled DLQ entry %d (task %s) as msg %d\n", e.MsgID, e.TaskID, id)
					rescheduled = true
				}
			}
		}
		if st.reached(want) && rescheduled {
			break
		}
	}
	stopWorker()
	if err := <-done; err != nil {
		return err
	}
	fmt.Println()
	dead := map[string]int{}
	for _, q := range st.queues {
		// Every task that ever went to the DLQ is archived in its queue with this status.
		var n int
		err := pool.QueryRow(ctx, `SELECT count(*) FROM pgmq.`+pgx.Identifier{"a_" + q}.Sanitize()+`
			WHERE headers->>'x-pgtq-status' = 'dead_lettered'`).Scan(&n)
		if err != nil {
			return fmt.Errorf("count dead-lettered tasks of %s: %w", q, err)
		}
		dead[q] = n
	}
	fmt.Print(st.summary(dead))
	fmt.Println("(enqueue-to-start includes waiting behind the demo's bursts; first attempts only)")
	return st.check(want, dead)
}

// roleClient returns a Client connected as pgtq_demo_<group without "pgtq_">, a login role that is only a
// member of group, when the pool's user may create roles (it creates the role or resets its password);
// otherwise a Client on pool itself.
func roleClient(ctx context.Context, pool *pgxpool.Pool, group string) (*driver.Client, error) {
	var mayCreate bool
	if err := pool.QueryRow(ctx, `SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user`).
		Scan(&mayCreate); err != nil {
		return nil, fmt.Errorf("look up the current role: %w", err)
	}
	if !mayCreate {
		return driver.New(ctx, pool)
	}
	role := "pgtq_demo_" + strings.TrimPrefix(group, "pgtq_")
	password := fmt.Sprintf("demo-%d", time.Now().UnixNano())
	// Roles are cluster-wide: create once, reset the password on every run. CONNECT is PUBLIC's by default.
	_, err := pool.Exec(ctx, fmt.Sprintf(`DO $$
		BEGIN
			IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = %[1]s) THEN
				CREATE ROLE %[2]s LOGIN IN ROLE %[3]s;
			END IF;
			ALTER ROLE %[2]s PASSWORD %[4]s;
		END $$`, quoteLiteral(role), pgx.Identifier{role}.Sanitize(), pgx.Identifier{group}.Sanitize(), quoteLiteral(password)))
	if err != nil {
		return nil, fmt.Errorf("create demo role %s: %w", role, err)
	}
	cfg := pool.Config().Copy()
	cfg.ConnConfig.User, cfg.ConnConfig.Password = role, password
	rp, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect as %s: %w", role, err)
	}
	context.AfterFunc(ctx, rp.Close)
	return driver.New(ctx, rp)
}

// quoteLiteral quotes s as an SQL string literal.
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// setup creates the queues (as admin), the application table and its trigger (as the owner; the producer
// may insert into it), dropping leftovers of a former run.
func setup(ctx context.Context, client *driver.Client, owner *pgxpool.Pool) error {
	for _, q := range []string{emailQueue, orderQueue, feedQueue} {
		if _, err := client.DropQueue(ctx, q); err != nil {
			return err
		}
		if err := client.CreateQueue(ctx, q, nil); err != nil {
			return err
		}
	}
	// The application's own table: every inserted order enqueues a task in the same transaction.
	_, err := owner.Exec(ctx, `
		DROP TABLE IF EXISTS demo_app_orders;
		CREATE TABLE demo_app_orders (
			id       bigserial PRIMARY KEY,
			customer text NOT NULL,
			seq      integer NOT NULL
		);
		CREATE OR REPLACE FUNCTION demo_app_orders_enqueue() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			PERFORM pgtq.enqueue(
				queue_name => 'demo_orders',
				payload    => jsonb_build_object('id', NEW.id, 'customer', NEW.customer, 'seq', NEW.seq),
				group_key  => NEW.customer);
			RETURN NEW;
		END $$;
		CREATE TRIGGER demo_app_orders_enqueue AFTER INSERT ON demo_app_orders
			FOR EACH ROW EXECUTE FUNCTION demo_app_orders_enqueue();
		GRANT INSERT ON demo_app_orders TO pgtq_producer;
		GRANT USAGE ON SEQUENCE demo_app_orders_id_seq TO pgtq_producer;`)
	if err != nil {
		return fmt.Errorf("create application table: %w", err)
	}
	return nil
}

// produce enqueues the e-mails from Go and inserts the orders into the application table (whose trigger
// enqueues, with the producer's own rights).
func produce(ctx context.Context, client *driver.Client) error {
	pool := client.Pool()
	mails := driver.NewQueue[Email](client, emailQueue, nil)
	for n := 1; n <= emails; n++ {
		if _, err := mails.Enqueue(ctx, Email{To: fmt.Sprintf("user%d@example.com", n), N: n}, nil); err != nil {
			return err
		}
	}
	// The typed queue refuses an invalid e-mail; an untyped producer does not, and the worker catches it.
	if _, err := mails.Enqueue(ctx, Email{To: "nobody", N: 99}, nil); !errors.Is(err, driver.ErrInvalidPayload) {
		return fmt.Errorf("typed enqueue of an invalid e-mail: want ErrInvalidPayload, got %v", err)
	}
	if _, err := client.Enqueue(ctx, emailQueue, map[string]any{"to": "nobody", "n": 99}, nil); err != nil {
		return err
	}
	// Orders arrive interleaved across customers, a few rows per transaction.
	for seq := 1; seq <= orders; seq++ {
		batch := make([]string, 0, customers)
		for c := 1; c <= customers; c++ {
			batch = append(batch, fmt.Sprintf("('customer-%d', %d)", c, seq))
		}
		if _, err := pool.Exec(ctx, `INSERT INTO demo_app_orders (customer, seq) VALUES `+strings.Join(batch, ", ")); err != nil {
			return fmt.Errorf("insert orders: %w", err)
		}
	}
	return nil
}

func emailProcessor(st *stats) *worker.Processor {
	return worker.NewProcessor(emailQueue, func(ctx context.Context, e Email) error {
		info := st.start(ctx)
		rescheduledCopy := info.Headers["x-pgtq-original"] != nil
		switch {
		case e.Key != info.TaskID:
			return fmt.Errorf("idempotency key %q is not the task id %q", e.Key, info.TaskID)
		case rescheduledCopy:
			// The rescheduled copy of n=13 succeeds.
		case e.N%10 == 3 && e.N != 13 && info.Attempt == 1:
			return errSMTPBusy // retried after its delay, then succeeds
		case e.N == 13:
			return errSMTPBusy // always busy: exhausts its retries, lands in the DLQ
		case e.N == 17 || e.N == 37:
			return errBounced // not in RetryOn: straight to the DLQ
		}
		time.Sleep(5 * time.Millisecond) // simulated SMTP call
		st.done(info)
		return nil
	}, &worker.ProcessorOptions{
		MaxRetries:     2,
		RetryOn:        []worker.RetryMatcher{worker.RetryOnError(errSMTPBusy)},
		RetryDelay:     worker.ExponentialDelay(time.Second, 4*time.Second, 0.2),
		Timeout:        10 * time.Second,
		IdempotencyKey: "key",
	})
}

func orderProcessor(st *stats) *worker.Processor {
	var mu sync.Mutex
	last := map[string]int{}
	return worker.NewProcessor(orderQueue, func(ctx context.Context, o Order) error {
		info := st.start(ctx)
		mu.Lock()
		if prev := last[o.Customer]; o.Seq != prev+1 {
			st.violation(fmt.Sprintf("%s: order %d ran after %d", o.Customer, o.Seq, prev))
		}
		last[o.Customer] = o.Seq
		mu.Unlock()
		time.Sleep(20 * time.Millisecond) // simulated work
		st.done(info)
		return nil
	}, &worker.ProcessorOptions{Grouped: true, ConcurrencyLimit: 4})
}

func feedProcessor(st *stats) *worker.Processor {
	var mu sync.Mutex
	var order []int
	return worker.NewProcessor(feedQueue, func(ctx context.Context, f FeedItem) error {
		info := st.start(ctx)
		mu.Lock()
		// The whole burst was queued before the worker started and the queue runs one item at a time, so
		// LIFO means exactly newest first: 20, 19, ..., 1.
		order = append(order, f.N)
		if want := feedItems + 1 - len(order); f.N != want {
			st.violation(fmt.Sprintf("LIFO: feed item %d ran as number %d, want item %d", f.N, len(order), want))
		}
		mu.Unlock()
		time.Sleep(5 * time.Millisecond) // simulated work
		st.done(info)
		return nil
	}, &worker.ProcessorOptions{LIFO: true, ConcurrencyLimit: 1})
}

// stats collects what the handlers see, per queue.
type stats struct {
	mu         sync.Mutex
	queues     []string
	completed  map[string]int
	retried    map[string]int // attempts after the first
	latency    map[string][]time.Duration
	violations []string
}

func newStats(queues ...string) *stats {
	return &stats{queues: queues, completed: map[string]int{}, retried: map[string]int{}, latency: map[string][]time.Duration{}}
}

func (s *stats) start(ctx context.Context) worker.TaskInfo {
	info, _ := worker.TaskFromContext(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	if info.Attempt > 1 {
		s.retried[info.Queue]++
	} else if info.Headers["x-pgtq-original"] == nil {
		s.latency[info.Queue] = append(s.latency[info.Queue], info.StartedAt.Sub(info.EnqueuedAt))
	}
	return info
}

func (s *stats) done(info worker.TaskInfo) {
	s.mu.Lock()
	s.completed[info.Queue]++
	s.mu.Unlock()
}

func (s *stats) violation(v string) {
	s.mu.Lock()
	s.violations = append(s.violations, v)
	s.mu.Unlock()
}

func (s *stats) progress(dlq []driver.DLQEntry) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	parts := make([]string, 0, len(s.queues))
	for _, q := range s.queues {
		parts = append(parts, fmt.Sprintf("%s %d done/%d retried", q, s.completed[q], s.retried[q]))
	}
	return fmt.Sprintf("[%s] %s | %s DLQ %d", time.Now().Format("15:04:05.000"), strings.Join(parts, " | "), emailQueue, len(dlq))
}

// reached reports whether every queue has completed what it should (dead-lettering is checked at the end).
func (s *stats) reached(want map[string][2]int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for q, w := range want {
		if s.completed[q] < w[0] {
			return false
		}
	}
	return true
}

func (s *stats) summary(dead map[string]int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "%-12s %9s %8s %13s %10s %10s\n", "queue", "completed", "retried", "dead-lettered", "start p50", "start p99")
	for _, q := range s.queues {
		lat := slices.Clone(s.latency[q])
		slices.Sort(lat)
		fmt.Fprintf(&b, "%-12s %9d %8d %13d %10s %10s\n", q, s.completed[q], s.retried[q], dead[q],
			pct(lat, 50).Round(10*time.Microsecond), pct(lat, 99).Round(10*time.Microsecond))
	}
	return b.String()
}

// check compares the end state with want (queue -> {completed, dead-lettered}) and reports violations.
func (s *stats) check(want map[string][2]int, dead map[string]int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.violations) > 0 {
		return fmt.Errorf("ordering violated: %s", strings.Join(s.violations, "; "))
	}
	for _, q := range s.queues {
		if got := [2]int{s.completed[q], dead[q]}; got != want[q] {
			return fmt.Errorf("%s: completed/dead-lettered = %v, want %v", q, got, want[q])
		}
	}
	fmt.Println("demo OK")
	return nil
}

// pct returns the p-th percentile of sorted by nearest rank.
func pct(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	return sorted[min(max(i-1, 0), len(sorted)-1)]
}
