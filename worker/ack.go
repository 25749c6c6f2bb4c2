package worker

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/pgtq/pgtq/driver"
)

// Acknowledgements (complete, fail, release) survive database blips: a dropped completion would run a
// finished task again after a whole lease. Each acknowledgement is retried with backoff while its error is
// transient (driver.IsTransient: connection lost, server restarting, serialization failure, deadlock) until
// it succeeds or another try would be pointless: after the end of the task's lease (known locally as the
// claim's start plus the lease, pushed forward by Heartbeat, so that the server's clock does not matter),
// when the task may be another worker's, or, once Run's ctx ended, after ShutdownTimeout (the first try
// always runs). Errors that another try cannot fix are reported at once.
//
// Order per task: a task has one outcome per attempt (complete, fail or release, each sent once, by the
// task's executor or by the completer after the executor handed the task over), and an attempt's
// acknowledgement carries its own lease token, so an acknowledgement still being retried can never act on a
// later attempt of the task; a heartbeat only runs while the handler does, before the outcome exists.
//
// A lost connection leaves a write's outcome unknown: the statement may have committed before the reply was
// lost. A retry then finds the task no longer leased to this attempt. While the lease has not ended nobody
// else can have taken the task, so that answer means the earlier try committed; after the lease's end it is
// ambiguous, and is logged as such.

const (
	// ackBackoffMin and ackBackoffMax bound the wait between two tries of an acknowledgement.
	ackBackoffMin = 50 * time.Millisecond
	ackBackoffMax = 2 * time.Second
)

// ackDeadline is when retrying an acknowledgement of a task whose lease ends at leaseEnd becomes
// pointless: the lease's end, or the end of ShutdownTimeout once shutdown began, whichever is first.
func (w *Worker) ackDeadline(leaseEnd time.Time) time.Time {
	if sd := w.shutdownDeadline.Load(); sd != nil && sd.Before(leaseEnd) {
		return *sd
	}
	return leaseEnd
}

// retryable reports whether an acknowledgement that failed with err may be tried again. timedOut tells
// that the try's own ctx (ackTimeout) expired: the server did not answer in time, which is transient too.
func ackRetryable(err error, timedOut bool) bool {
	return driver.IsTransient(err) || (timedOut && errors.Is(err, context.DeadlineExceeded))
}

// retryAck runs op (one try of an acknowledgement, each under ackTimeout) until it succeeds, fails for a
// reason that another try cannot fix, or the next try would start after deadline() (the first try always
// runs). It returns the number of tries and op's last error. The first transient failure is logged at WARN
// through log, with what naming the call; giving up is left to the caller to report.
func (w *Worker) retryAck(deadline func() time.Time, log *slog.Logger, what string, op func(ctx context.Context) error) (int, error) {
	for tries := 1; ; tries++ {
		ctx, cancel := context.WithTimeout(context.Background(), ackTimeout)
		err := op(ctx)
		timedOut := ctx.Err() != nil
		cancel()
		if err == nil || !ackRetryable(err, timedOut) {
			return tries, err
		}
		wait := backoff(tries, ackBackoffMin, ackBackoffMax)
		if time.Now().Add(wait).After(deadline()) {
			return tries, err
		}
		if tries == 1 {
			log.Warn("pgtq: "+what+" failed; retrying", "error", err)
		}
		time.Sleep(wait) // backoff between tries, not a wait for a condition
	}
}
