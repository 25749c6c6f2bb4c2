// Package dashboard is PGTQ's web dashboard: an http.Handler of server-rendered pages (`pgtq serve` mounts it
// at /, beside the JSON API at /api/ and the metrics at /metrics).
//
//	GET  /                                            every queue: depth by status, throughput, oldest task's age
//	GET  /queues/{queue}                              live plots, counts, tasks, dead-letter queue, recent archive
//	GET  /queues/{queue}/series.json                  the plots' data (below)
//	GET  /queues/{queue}/tasks/{msg_id}               a task's history and its error log
//	POST /queues/{queue}/dlq/{msg_id}/reschedule      a form post: the DLQ entry back into its queue
//
// Every table is rendered on the server and works without JavaScript; the plots (uPlot 1.6.32, MIT licence,
// vendored and embedded: no build step, nothing fetched from elsewhere) refresh every Options.RefreshInterval.
//
// Where the numbers come from:
//   - counts: pgtq.list_queues and pgtq.stats, read on every page view and plot refresh;
//   - depth over time: samples of pgtq.list_queues (one call for all queues) that the handler keeps in
//     memory, one every Options.SampleInterval while Run runs (and on a plot refresh when the last sample is
//     older), so that history starts when the server does;
//   - completions and failures per second and the enqueue-to-start p50/p95: pgtq.throughput, which reads the
//     archive's timestamps, so they are exact and survive restarts.
//
// All of these are granted to pgtq_admin only: the dashboard's database role must be, or inherit, pgtq_admin.
//
// Writes: the reschedule buttons appear only when Options.Writes is set. They submit a plain HTML form (no
// JavaScript needed) with the operator's token, under the same rules as the JSON API (package httpapi): the
// token must equal Options.Token (compared in constant time), a missing token is 401, a wrong one 403, and
// with writes off the route answers 403. The token travels in the form body, never in a URL or a cookie, so
// another site cannot forge the post.
package dashboard

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/pgtq/pgtq/driver"
)

// Defaults of Options.
const (
	// SampleIntervalDefault is how often Run samples the queues' depth.
	SampleIntervalDefault = 2 * time.Second
	// HistoryDefault is how much depth history the dashboard keeps in memory, and the span of the plots.
	HistoryDefault = 15 * time.Minute
	// StepDefault is the width of a throughput bucket.
	StepDefault = 5 * time.Second
	// RefreshIntervalDefault is how often the queue page refreshes its plots and counts.
	RefreshIntervalDefault = 2 * time.Second
	// RowsDefault is how many rows the tasks, DLQ and archive tables show.
	RowsDefault = 50
)

// Options configures the dashboard. A nil *Options means all defaults.
type Options struct {
	// Writes shows the reschedule buttons of the dead-letter queue and enables their route. Defaults to
	// false: no buttons, and the route answers 403.
	Writes bool
	// Token is the token an operator enters to reschedule, as the API's bearer token. Required when Writes
	// is set. Defaults to "".
	Token string
	// APIPath is where the JSON API is mounted, linked from the pages. Defaults to "/api" ("-" for no link).
	APIPath string
	// SampleInterval is how often Run samples every queue's depth. Defaults to SampleIntervalDefault.
	SampleInterval time.Duration
	// History is how much depth history is kept, and the time span of the plots. Defaults to HistoryDefault.
	History time.Duration
	// Step is the width of a throughput bucket: completions and failures per second are averaged over it.
	// Whole seconds. Defaults to StepDefault.
	Step time.Duration
	// RefreshInterval is how often the queue page refreshes its plots and counts. Defaults to
	// RefreshIntervalDefault.
	RefreshInterval time.Duration
	// Rows is how many rows the tasks, DLQ and archive tables show. Defaults to RowsDefault.
	Rows int
	// Logger receives database errors (the pages show a generic message). Defaults to slog.Default().
	Logger *slog.Logger
}

func (o *Options) validate() error {
	switch {
	case o.Writes && o.Token == "":
		return errors.New("dashboard: Options.Token must be set when Options.Writes is enabled")
	case o.SampleInterval < 0:
		return fmt.Errorf("dashboard: Options.SampleInterval must not be negative, got %s", o.SampleInterval)
	case o.History < 0:
		return fmt.Errorf("dashboard: Options.History must not be negative, got %s", o.History)
	case o.Step < 0 || o.Step%time.Second != 0:
		return fmt.Errorf("dashboard: Options.Step must be whole seconds, got %s", o.Step)
	case o.RefreshInterval < 0:
		return fmt.Errorf("dashboard: Options.RefreshInterval must not be negative, got %s", o.RefreshInterval)
	case o.Rows < 0 || o.Rows > driver.ListLimitMax:
		return fmt.Errorf("dashboard: Options.Rows must be between 0 and %d, got %d", driver.ListLimitMax, o.Rows)
	}
	return nil
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Dashboard is the dashboard's http.Handler. Run samples the queues' depth for the plots.
type Dashboard struct {
	client  *driver.Client
	opts    Options
	token   [32]byte
	mux     *http.ServeMux
	pages   map[string]*template.Template
	samples *sampler
}

// New returns the dashboard over client, whose role must have pgtq_admin.
func New(client *driver.Client, opts *Options) (*Dashboard, error) {
	if client == nil {
		return nil, errors.New("dashboard: client is nil")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	o.APIPath = cmp.Or(o.APIPath, "/api")
	o.SampleInterval = cmp.Or(o.SampleInterval, SampleIntervalDefault)
	o.History = cmp.Or(o.History, HistoryDefault)
	o.Step = cmp.Or(o.Step, StepDefault)
	o.RefreshInterval = cmp.Or(o.RefreshInterval, RefreshIntervalDefault)
	o.Rows = cmp.Or(o.Rows, RowsDefault)
	o.Logger = cmp.Or(o.Logger, slog.Default())
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	d := &Dashboard{
		client:  client,
		opts:    o,
		token:   sha256.Sum256([]byte(o.Token)),
		mux:     http.NewServeMux(),
		pages:   pages,
		samples: newSampler(int(o.History/o.SampleInterval) + 1),
	}
	static, _ := fs.Sub(staticFS, "static")
	d.mux.Handle("GET /static/", http.StripPrefix("/static/", cacheFor(time.Hour, http.FileServerFS(static))))
	d.mux.HandleFunc("GET /{$}", d.overview)
	d.mux.HandleFunc("GET /queues/{queue}", d.queue)
	d.mux.HandleFunc("GET /queues/{queue}/series.json", d.series)
	d.mux.HandleFunc("GET /queues/{queue}/tasks/{msg_id}", d.task)
	d.mux.HandleFunc("POST /queues/{queue}/dlq/{msg_id}/reschedule", d.reschedule)
	d.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		d.errorPage(w, http.StatusNotFound, "Not found", "There is no page at "+r.URL.Path+".")
	})
	return d, nil
}

// ServeHTTP implements http.Handler.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "same-origin")
	w.Header().Set("Content-Security-Policy",
		"default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'; form-action 'self'")
	d.mux.ServeHTTP(w, r)
}

// Run samples every queue's depth each Options.SampleInterval until ctx ends, for the depth plots. It returns
// nil when ctx ends; a failed sample is logged and skipped.
func (d *Dashboard) Run(ctx context.Context) error {
	t := time.NewTicker(d.opts.SampleInterval)
	defer t.Stop()
	for {
		if err := d.sample(ctx); err != nil && ctx.Err() == nil {
			d.opts.Logger.Warn("pgtq: dashboard sample failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// sample records every queue's counts now (one pgtq.list_queues call).
func (d *Dashboard) sample(ctx context.Context) error {
	qs, err := d.client.ListQueues(ctx)
	if err != nil {
		return err
	}
	d.samples.add(time.Now(), qs)
	return nil
}

func cacheFor(d time.Duration, h http.Handler) http.Handler {
	v := "public, max-age=" + strconv.Itoa(int(d.Seconds()))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", v)
		h.ServeHTTP(w, r)
	})
}

// checkToken applies httpapi's write rules to a form post: writes on, a token, the right token.
func (d *Dashboard) checkToken(w http.ResponseWriter, r *http.Request) bool {
	if !d.opts.Writes {
		d.errorPage(w, http.StatusForbidden, "Writes are disabled", "This dashboard was started without writes.")
		return false
	}
	got := r.PostFormValue("token")
	if got == "" {
		d.errorPage(w, http.StatusUnauthorized, "Token required", "Enter the API token to reschedule.")
		return false
	}
	// Hashes have one length, so the comparison's time says nothing about the token's length either.
	sum := sha256.Sum256([]byte(got))
	if subtle.ConstantTimeCompare(sum[:], d.token[:]) != 1 {
		d.errorPage(w, http.StatusForbidden, "Wrong token", "The token does not match the server's.")
		return false
	}
	return true
}

func (d *Dashboard) reschedule(w http.ResponseWriter, r *http.Request) {
	queue := r.PathValue("queue")
	id, err := strconv.ParseInt(r.PathValue("msg_id"), 10, 64)
	if err != nil || id < 1 {
		d.errorPage(w, http.StatusBadRequest, "Bad request", "msg_id must be a positive integer.")
		return
	}
	if !d.checkToken(w, r) {
		return
	}
	newID, err := d.client.Reschedule(r.Context(), queue, id)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	q := url.Values{"rescheduled": {strconv.FormatInt(id, 10)}, "as": {strconv.FormatInt(newID, 10)}}
	http.Redirect(w, r, "/queues/"+url.PathEscape(queue)+"?"+q.Encode()+"#dlq", http.StatusSeeOther)
}

// fail answers a driver error as httpapi does: not found 404, invalid input 400, anything else 500 (logged).
func (d *Dashboard) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, driver.ErrQueueNotFound), errors.Is(err, driver.ErrMessageNotFound):
		d.errorPage(w, http.StatusNotFound, "Not found", err.Error())
	case errors.Is(err, driver.ErrInvalidArgument), errors.Is(err, driver.ErrInvalidQueueName):
		d.errorPage(w, http.StatusBadRequest, "Bad request", err.Error())
	default:
		d.opts.Logger.Error("pgtq: dashboard request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		d.errorPage(w, http.StatusInternalServerError, "Database error",
			"The database request failed; the server's log has the details.")
	}
}

func errorsIsNotFound(err error) bool {
	return errors.Is(err, driver.ErrQueueNotFound) || errors.Is(err, driver.ErrMessageNotFound)
}
