package pgtqtest_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pgtq/pgtq/worker"
)

func TestHeartbeatOnAContextWithTaskSaysThereIsNoLease(t *testing.T) {
	t.Parallel()
	ctx := worker.ContextWithTask(context.Background(), worker.TaskInfo{Queue: "emails", MsgID: 1, Attempt: 1})
	require.ErrorIs(t, worker.Heartbeat(ctx), worker.ErrNoLease)
	require.ErrorIs(t, worker.Heartbeat(context.Background()), worker.ErrNoTask)
}
