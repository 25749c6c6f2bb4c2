package worker

import (
	"context"
	"errors"
)

// ErrNoLease is returned by Heartbeat for a ctx made by ContextWithTask: the task was not claimed by a Worker,
// so there is no lease to extend.
var ErrNoLease = errors.New("pgtq task has no lease: its context was made by ContextWithTask, not by a worker")

// ContextWithTask returns a copy of ctx that carries task as if a Worker had claimed it: TaskFromContext
// returns task, and Heartbeat returns ErrNoLease (there is no lease to extend). It lets a handler be
// unit-tested without a database:
//
//	ctx := worker.ContextWithTask(context.Background(), worker.TaskInfo{Queue: "emails", TaskID: "t-1", Attempt: 1})
//	err := sendEmail(ctx, Email{To: "a@b.c"})
func ContextWithTask(ctx context.Context, task TaskInfo) context.Context {
	return context.WithValue(ctx, taskCtxKey{}, &running{info: task})
}
