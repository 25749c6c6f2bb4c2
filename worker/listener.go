package worker

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgxlisten"
)

const (
	// ListenerApplicationName is the application_name of the worker's dedicated LISTEN connection.
	ListenerApplicationName = "pgtq-worker-listener"
	listenBackoffMin        = 100 * time.Millisecond
	listenBackoffMax        = 30 * time.Second
)

// listen keeps one dedicated connection LISTENing on every processor's queue channel until ctx ends.
// A notification marks its processor as having work. When the connection fails it reconnects with
// exponential backoff; meanwhile the dispatcher polls more often, and after each (re)connect every
// processor is checked once, since notifications sent while disconnected are lost.
func (w *Worker) listen(ctx context.Context) {
	var failures atomic.Int32
	var listened atomic.Int32 // channels listened on the current connection
	byChannel := w.channels   // from the database (Client.NotifyChannel), looked up by Run
	cfg := w.client.Pool().Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = ListenerApplicationName

	l := &pgxlisten.Listener{
		Connect: func(ctx context.Context) (*pgx.Conn, error) {
			if n := failures.Load(); n > 0 {
				t := time.NewTimer(backoff(int(n), listenBackoffMin, listenBackoffMax))
				defer t.Stop()
				select {
				case <-ctx.Done():
					return nil, ctx.Err()
				case <-t.C:
				}
			}
			listened.Store(0)
			return pgx.ConnectConfig(ctx, cfg)
		},
		LogError: func(ctx context.Context, err error) {
			w.listening.Store(false)
			failures.Add(1)
			if ctx.Err() == nil {
				w.log.Warn("pgtq: listener connection failed; reconnecting", "error", err,
					"attempt", failures.Load())
			}
		},
		// Connect does the waiting (with backoff); pgxlisten must not add a fixed delay of its own.
		ReconnectDelay: -1,
	}
	handler := &listenHandler{
		notify: func(channel string) {
			if ps := byChannel[channel]; ps != nil {
				ps.dirty.Store(true)
				w.signal()
			}
		},
		listened: func(channel string) {
			if int(listened.Add(1)) < len(byChannel) {
				return
			}
			failures.Store(0)
			w.listening.Store(true)
			// Anything sent while we were not listening was not announced: look once.
			w.markAllDirty()
			w.signal()
			w.readyMu.Do(func() { close(w.ready) })
		},
	}
	for ch := range byChannel {
		l.Handle(ch, handler)
	}
	err := l.Listen(ctx)
	switch {
	case ctx.Err() != nil:
		// Run's ctx ended (cancelled or past its deadline): the normal way to stop.
		w.log.Debug("pgtq: listener stopped")
	case err != nil:
		w.log.Error("pgtq: listener stopped", "error", fmt.Errorf("listen: %w", err))
	}
	w.listening.Store(false)
}

// listenHandler adapts the worker's callbacks to pgxlisten.
type listenHandler struct {
	notify   func(channel string)
	listened func(channel string)
}

// HandleNotification marks the channel's processor as having work.
func (h *listenHandler) HandleNotification(_ context.Context, n *pgconn.Notification, _ *pgx.Conn) error {
	h.notify(n.Channel)
	return nil
}

// HandleBacklog runs right after LISTEN on channel succeeded.
func (h *listenHandler) HandleBacklog(_ context.Context, channel string, _ *pgx.Conn) error {
	h.listened(channel)
	return nil
}
