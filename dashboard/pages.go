package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgtq/pgtq/driver"
)

var funcs = template.FuncMap{
	"pe":      url.PathEscape,
	"ts":      func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") },
	"tsp":     func(t *time.Time) string { return tsPtr(t) },
	"age":     formatAge,
	"rate":    func(r float64) string { return strconv.FormatFloat(r, 'f', 2, 64) },
	"json":    prettyJSON,
	"short":   shortJSON,
	"sum":     func(q driver.QueueInfo) int64 { return q.Queued + q.Delayed + q.Processing + q.Retrying },
	"percent": percent,
	"last":    func(es []driver.TaskError) driver.TaskError { return es[len(es)-1] },
}

func parsePages() (map[string]*template.Template, error) {
	pages := map[string]*template.Template{}
	for _, name := range []string{"overview", "queue", "task", "error"} {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html",
			"templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("dashboard: parse %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// page is what every template gets.
type page struct {
	Title   string
	APIPath string
	Now     time.Time
	Data    any
}

func (d *Dashboard) render(w http.ResponseWriter, status int, name, title string, data any) {
	var buf bytes.Buffer
	err := d.pages[name].Execute(&buf, page{Title: title, APIPath: d.opts.APIPath, Now: time.Now(), Data: data})
	if err != nil {
		d.opts.Logger.Error("pgtq: dashboard template failed", "page", name, "error", err)
		http.Error(w, "template error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

func (d *Dashboard) errorPage(w http.ResponseWriter, status int, title, msg string) {
	d.render(w, status, "error", title, struct{ Status, Message string }{http.StatusText(status), msg})
}

// overviewRow is one queue of the overview.
type overviewRow struct {
	driver.QueueInfo
	// Rate is completions per second over the last minute (-1 when unknown).
	Rate float64
}

func (d *Dashboard) overview(w http.ResponseWriter, r *http.Request) {
	qs, err := d.client.ListQueues(r.Context())
	if err != nil {
		d.fail(w, r, err)
		return
	}
	d.samples.add(time.Now(), qs)
	rows := make([]overviewRow, 0, len(qs))
	for _, q := range qs {
		row := overviewRow{QueueInfo: q, Rate: -1}
		if bs, err := d.throughput(r.Context(), q.Queue, time.Minute, time.Second); err == nil && len(bs) > 0 {
			var n int64
			for _, b := range bs {
				n += b.completed
			}
			row.Rate = float64(n) / max(time.Since(bs[0].at).Seconds(), 1)
		} else if err != nil {
			d.opts.Logger.Warn("pgtq: dashboard throughput failed", "queue", q.Queue, "error", err)
		}
		rows = append(rows, row)
	}
	d.render(w, http.StatusOK, "overview", "Queues", rows)
}

// queuePage is the data of the queue page.
type queuePage struct {
	Info        *driver.QueueInfo
	Tasks       []driver.TaskView
	DLQ         []driver.DLQEntry
	Archive     []driver.TaskView
	Writes      bool
	Rows        int
	Rescheduled string // the DLQ msg_id just rescheduled, from the redirect
	As          string // the task it became
	Refresh     int    // milliseconds between plot refreshes
}

func (d *Dashboard) queue(w http.ResponseWriter, r *http.Request) {
	ctx, name := r.Context(), r.PathValue("queue")
	info, err := d.client.QueueInfo(ctx, name)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	p := queuePage{Info: info, Writes: d.opts.Writes, Rows: d.opts.Rows,
		Rescheduled: r.URL.Query().Get("rescheduled"), As: r.URL.Query().Get("as"),
		Refresh: int(d.opts.RefreshInterval.Milliseconds())}
	if p.Tasks, err = d.client.ListTasks(ctx, name, &driver.ListTasksOptions{Limit: d.opts.Rows}); err != nil {
		d.fail(w, r, err)
		return
	}
	if p.DLQ, err = d.client.ListDLQ(ctx, name, d.opts.Rows); err != nil {
		d.fail(w, r, err)
		return
	}
	if p.Archive, err = d.client.ListArchive(ctx, name, 0, min(d.opts.Rows, 20)); err != nil {
		d.fail(w, r, err)
		return
	}
	d.render(w, http.StatusOK, "queue", name, p)
}

// series is the JSON of the queue page's plots, in uPlot's column layout: the first array holds the times
// (Unix seconds), the others one value per time.
type series struct {
	Stats *driver.QueueInfo `json:"stats"`
	// From and To are the plots' time window (Unix seconds): the last Options.History.
	From float64 `json:"from"`
	To   float64 `json:"to"`
	// Depth: time, queued, delayed, processing, retrying, dlq.
	Depth [6][]float64 `json:"depth"`
	// Rate: time, completed per second, failed per second.
	Rate [3][]float64 `json:"rate"`
	// Latency: time, enqueue-to-start p50 and p95 in seconds (null where no task started).
	Latency [3][]*float64 `json:"latency"`
}

func (d *Dashboard) series(w http.ResponseWriter, r *http.Request) {
	ctx, name := r.Context(), r.PathValue("queue")
	info, err := d.client.QueueInfo(ctx, name)
	if err != nil {
		d.failJSON(w, r, err)
		return
	}
	// Without Run (or between its samples) the plot still gets a point for now.
	if time.Since(d.samples.lastAt()) >= d.opts.SampleInterval {
		if err := d.sample(ctx); err != nil {
			d.failJSON(w, r, err)
			return
		}
	}
	bs, err := d.throughput(ctx, name, d.opts.History, d.opts.Step)
	if err != nil {
		d.failJSON(w, r, err)
		return
	}
	now := time.Now()
	s := series{Stats: info, From: unix(now.Add(-d.opts.History)), To: unix(now)}
	for i := range s.Depth {
		s.Depth[i] = []float64{}
	}
	for _, v := range d.samples.get(name) {
		for i, x := range []float64{unix(v.at), float64(v.queued), float64(v.delayed), float64(v.processing),
			float64(v.retrying), float64(v.dlq)} {
			s.Depth[i] = append(s.Depth[i], x)
		}
	}
	for i := range s.Rate {
		s.Rate[i] = make([]float64, 0, len(bs))
		s.Latency[i] = make([]*float64, 0, len(bs))
	}
	for _, b := range bs {
		// The last bucket is still filling: a rate over the part of it that has passed.
		width := min(d.opts.Step, now.Sub(b.at)).Seconds()
		width = max(width, 1)
		t := unix(b.at)
		s.Rate[0] = append(s.Rate[0], t)
		s.Rate[1] = append(s.Rate[1], round3(float64(b.completed)/width))
		s.Rate[2] = append(s.Rate[2], round3(float64(b.failed)/width))
		s.Latency[0] = append(s.Latency[0], &t)
		s.Latency[1] = append(s.Latency[1], b.p50)
		s.Latency[2] = append(s.Latency[2], b.p95)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(s)
}

func (d *Dashboard) failJSON(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusInternalServerError
	msg := "the database request failed"
	if errorsIsNotFound(err) {
		status, msg = http.StatusNotFound, err.Error()
	} else {
		d.opts.Logger.Error("pgtq: dashboard request failed", "method", r.Method, "path", r.URL.Path, "error", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// bucket is one row of pgtq.throughput.
type bucket struct {
	at                time.Time
	completed, failed int64
	p50, p95          *float64
}

// throughput calls pgtq.throughput: queue's completions, failures and enqueue-to-start percentiles over the
// last since, in buckets of step.
func (d *Dashboard) throughput(ctx context.Context, queue string, since, step time.Duration) ([]bucket, error) {
	rows, err := d.client.Pool().Query(ctx, `SELECT bucket, completed, failed, start_delay_p50, start_delay_p95
		FROM pgtq.throughput(queue_name => $1::text, since => $2::interval, step => $3::interval)`,
		queue, since, step)
	if err != nil {
		return nil, fmt.Errorf("throughput of %q: %w", queue, err)
	}
	bs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (bucket, error) {
		var b bucket
		err := row.Scan(&b.at, &b.completed, &b.failed, &b.p50, &b.p95)
		if b.p50 != nil {
			*b.p50 = round3(*b.p50)
		}
		if b.p95 != nil {
			*b.p95 = round3(*b.p95)
		}
		return b, err
	})
	if err != nil {
		return nil, fmt.Errorf("throughput of %q: %w", queue, err)
	}
	return bs, nil
}

// taskRun is one row of a task's history with its decoded error log.
type taskRun struct {
	driver.TaskView
	Errors []driver.TaskError
}

type taskPage struct {
	Queue   string
	MsgID   int64
	TaskID  string
	GroupID string
	Payload json.RawMessage
	History []taskRun
}

func (d *Dashboard) task(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("queue")
	id, err := strconv.ParseInt(r.PathValue("msg_id"), 10, 64)
	if err != nil || id < 1 {
		d.errorPage(w, http.StatusBadRequest, "Bad request", "msg_id must be a positive integer.")
		return
	}
	hist, err := d.client.GetTask(r.Context(), name, id)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	p := taskPage{Queue: name, MsgID: id}
	for _, v := range hist {
		p.History = append(p.History, taskRun{TaskView: v, Errors: errorLog(v)})
		if p.TaskID == "" {
			p.TaskID, p.GroupID = v.TaskID, v.GroupKey
		}
		if p.Payload == nil && (v.Place == driver.PlaceQueue || v.Place == driver.PlaceArchive) {
			p.Payload = v.Message
		}
	}
	d.render(w, http.StatusOK, "task", fmt.Sprintf("%s #%d", name, id), p)
}

// errorLog decodes a row's error history: the structured x-pgtq-error-log header, else the strings of
// x-pgtq-errors.
func errorLog(v driver.TaskView) []driver.TaskError {
	var h struct {
		Log    []driver.TaskError `json:"x-pgtq-error-log"`
		Errors []json.RawMessage  `json:"x-pgtq-errors"`
	}
	if err := json.Unmarshal(v.Headers, &h); err != nil {
		return nil
	}
	if len(h.Log) > 0 {
		return h.Log
	}
	out := make([]driver.TaskError, 0, len(h.Errors))
	for _, raw := range h.Errors {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			out = append(out, driver.TaskError{Error: s})
			continue
		}
		var e driver.TaskError
		if json.Unmarshal(raw, &e) == nil {
			out = append(out, e)
		}
	}
	return out
}

func unix(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

func tsPtr(t *time.Time) string {
	if t == nil {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

// formatAge renders seconds as "4s", "3m 12s", "2h 5m", "3d 4h"; "—" for nil.
func formatAge(s *float64) string {
	if s == nil {
		return "—"
	}
	d := time.Duration(*s * float64(time.Second)).Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm %ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd %dh", int(d.Hours())/24, int(d.Hours())%24)
}

func prettyJSON(raw json.RawMessage) string {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return string(raw)
	}
	return buf.String()
}

// shortJSON renders raw compactly, cut to 80 characters.
func shortJSON(raw json.RawMessage) string {
	var buf bytes.Buffer
	s := string(raw)
	if json.Compact(&buf, raw) == nil {
		s = buf.String()
	}
	if r := []rune(s); len(r) > 80 {
		return string(r[:79]) + "…"
	}
	return s
}

// percent is n's share of total as a CSS width ("0%" when total is 0).
func percent(n, total int64) template.CSS {
	if total <= 0 {
		return "0%"
	}
	return template.CSS(strconv.FormatFloat(100*float64(n)/float64(total), 'f', 1, 64) + "%")
}
