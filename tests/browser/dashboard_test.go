// Package browser tests the web dashboard in a real headless Chromium (driven with chromedp) against a real
// database and a real worker.
package browser

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/pgtq/pgtq/dashboard"
	"github.com/pgtq/pgtq/driver"
	"github.com/pgtq/pgtq/internal/pgtest"
	"github.com/pgtq/pgtq/worker"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// ScreenshotEnv names the variable that makes TestDashboardInBrowser write the queue page's screenshot to
// docs/dashboard.png (PGTQ_UPDATE_SCREENSHOT=1 go test ./tests/browser/).
const ScreenshotEnv = "PGTQ_UPDATE_SCREENSHOT"

// chromium returns the browser's path, or skips the test with what to install.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("browser test skipped: no Chromium on PATH; install it with `apt-get install chromium` " +
		"(scripts/deps.sh does when run as root)")
	return ""
}

// browser starts a headless Chromium with a fresh profile and returns a tab's context.
func browser(t *testing.T, ctx context.Context) context.Context {
	t.Helper()
	path := chromium(t)
	alloc, cancel := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1360, 1180),
	)
	t.Cleanup(cancel)
	tab, cancelTab := chromedp.NewContext(alloc)
	t.Cleanup(cancelTab)
	return tab
}

type job struct {
	N   int  `json:"n"`
	Bad bool `json:"bad"`
}

// TestDashboardInBrowser: a worker runs a queue's tasks (some dead-lettered) while the dashboard samples it;
// in Chromium the queue page draws non-empty plots, shows the counts of pgtq.stats, reschedules a DLQ entry
// from its button (the task then completes), and a read-only dashboard shows no buttons.
func TestDashboardInBrowser(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tab := browser(t, ctx) // skips before the database work when Chromium is missing

	client, err := driver.New(ctx, pgtest.NewDB(t))
	require.NoError(t, err)
	require.NoError(t, client.CreateQueue(ctx, "emails", nil))

	// The bad tasks fail until fixed is set, as after a deploy that fixes the bug.
	var fixed atomic.Bool
	proc := worker.NewProcessor("emails", func(ctx context.Context, j job) error {
		if j.Bad && !fixed.Load() {
			return worker.NonRetryable(errors.New("smtp: 550 mailbox unavailable"))
		}
		select { // a little work, so that the depth and rate plots have a shape
		case <-time.After(time.Duration(10+j.N%17) * time.Millisecond):
		case <-ctx.Done():
		}
		return nil
	}, nil)
	w, err := worker.New(client, &worker.Options{Processors: []*worker.Processor{proc}, ConcurrencyLimit: 3,
		Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)

	rw, err := dashboard.New(client, &dashboard.Options{Writes: true, Token: "s3cret", SampleInterval: 100 * time.Millisecond,
		History: 30 * time.Second, Step: time.Second, RefreshInterval: 300 * time.Millisecond})
	require.NoError(t, err)
	ro, err := dashboard.New(client, &dashboard.Options{History: 2 * time.Minute, Step: time.Second})
	require.NoError(t, err)
	rwSrv, roSrv := httptest.NewServer(rw), httptest.NewServer(ro)
	t.Cleanup(rwSrv.Close)
	t.Cleanup(roSrv.Close)
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = rw.Run(runCtx) }()

	// Three waves of tasks, each run to the end before the next, so that the plots have a shape.
	const waves, perWave, bad = 3, 80, 4
	const total = waves * perWave
	go func() { _ = w.Run(runCtx) }()
	for wave := range waves {
		payloads := make([]any, perWave)
		for i := range payloads {
			n := wave*perWave + i
			payloads[i] = job{N: n, Bad: n%(total/bad) == 7}
		}
		_, err = client.EnqueueBatch(ctx, "emails", payloads, nil)
		require.NoError(t, err)
		done := int64((wave + 1) * perWave)
		require.Eventually(t, func() bool {
			info, err := client.QueueInfo(ctx, "emails")
			return err == nil && info.Archived == done && info.Queued+info.Processing == 0
		}, 20*time.Second, 20*time.Millisecond, "the worker runs wave %d", wave)
	}

	// The queue page: plots with data, counts equal to pgtq.stats once the page refreshed after the run.
	require.NoError(t, chromedp.Do(tab, chromedp.Navigate(rwSrv.URL+"/queues/emails")))
	after := strconv.FormatInt(time.Now().UnixMilli(), 10)
	_, err = chromedp.Run(tab, chromedp.Poll[chromedp.Void](
		`(function () { var c = window.pgtqCharts, p = document.getElementById("plots");
		  return c && c.depth && c.rate && c.latency && Number(p.dataset.updated) > `+after+`; })()`,
		chromedp.WithPollingTimeout(15*time.Second)))
	require.NoError(t, err, "the plots draw after a refresh")
	type plot struct {
		Points int     `json:"points"`
		Max    float64 `json:"max"`
		Canvas bool    `json:"canvas"`
	}
	plots, err := chromedp.Run(tab, chromedp.Evaluate[map[string]plot](`(function () {
		var out = {};
		for (var k in window.pgtqCharts) {
			var u = window.pgtqCharts[k], max = 0;
			for (var i = 1; i < u.data.length; i++) for (var j = 0; j < u.data[i].length; j++) max = Math.max(max, u.data[i][j] || 0);
			out[k] = { points: u.data[0].length, max: max, canvas: !!u.root.querySelector("canvas") && u.root.querySelector("canvas").width > 0 };
		}
		return out; })()`))
	require.NoError(t, err)
	for _, k := range []string{"depth", "rate", "latency"} {
		require.True(t, plots[k].Canvas, "%s: a canvas is drawn", k)
		require.Greater(t, plots[k].Points, 1, "%s: points", k)
		require.Positive(t, plots[k].Max, "%s: some value is not zero", k)
	}
	stats, err := client.QueueInfo(ctx, "emails") // pgtq.stats
	require.NoError(t, err)
	shown, err := chromedp.Run(tab, chromedp.Evaluate[map[string]string](`(function () {
		var out = {};
		document.querySelectorAll("#stats [data-stat]").forEach(function (e) { out[e.dataset.stat] = e.textContent; });
		return out; })()`))
	require.NoError(t, err)
	for k, v := range map[string]int64{"queued": stats.Queued, "delayed": stats.Delayed, "processing": stats.Processing,
		"retrying": stats.Retrying, "dlq": stats.DLQ, "archived": stats.Archived} {
		require.Equal(t, strconv.FormatInt(v, 10), shown[k], k)
	}
	if os.Getenv(ScreenshotEnv) != "" {
		png, err := chromedp.Run(tab, chromedp.CaptureScreenshot())
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join("..", "..", "docs", "dashboard.png"), png, 0o644))
	}

	// Reschedule the first DLQ entry from its button, with the token.
	dlq, err := client.ListDLQ(ctx, "emails", 10)
	require.NoError(t, err)
	require.Len(t, dlq, bad)
	entry := dlq[0]
	fixed.Store(true)
	require.NoError(t, chromedp.Do(tab,
		chromedp.SendKeys(chromedp.CSS(`input[name="token"]`), "s3cret"),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`tr[data-dlq="%d"] button.reschedule`, entry.MsgID))),
		chromedp.WaitVisible(chromedp.CSS(`.flash`)),
	))
	require.Eventually(t, func() bool {
		hist, err := client.GetTaskByID(ctx, "emails", entry.TaskID)
		if err != nil || len(hist) == 0 {
			return false
		}
		last := hist[len(hist)-1]
		return last.Place == driver.PlaceArchive && last.Status == "completed"
	}, 15*time.Second, 20*time.Millisecond, "the rescheduled task runs again and completes")
	left, err := client.ListDLQ(ctx, "emails", 10)
	require.NoError(t, err)
	require.Len(t, left, bad-1)
	for _, e := range left {
		require.NotEqual(t, entry.MsgID, e.MsgID, "the entry left the DLQ")
	}

	// Read-only: the same page without token field or buttons.
	require.NoError(t, chromedp.Do(tab, chromedp.Navigate(roSrv.URL+"/queues/emails"),
		chromedp.WaitVisible(chromedp.CSS(`#dlq table`))))
	n, err := chromedp.Run(tab, chromedp.Evaluate[int](
		`document.querySelectorAll("button.reschedule").length + document.querySelectorAll("input[name=token]").length`))
	require.NoError(t, err)
	require.Zero(t, n, "no reschedule buttons with writes off")
	rows, err := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll("#dlq tr[data-dlq]").length`))
	require.NoError(t, err)
	require.Equal(t, bad-1, rows, "the DLQ is still listed")
	stop()
}
