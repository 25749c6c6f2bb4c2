package gotest

import (
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// TestOpsCancelRacesAck: pgtq.cancel of a processing task on one connection races its worker's complete (or
// fail) on another, released together by a barrier, many times. Exactly one wins every time, and nothing is
// lost: the task leaves the queue, is archived exactly once with the winner's status (completed / dead_lettered
// or cancelled), never lands in the DLQ after a cancel, and its group is freed.
func TestOpsCancelRacesAck(t *testing.T) {
	t.Parallel()
	for _, ack := range []string{"complete", "fail"} {
		t.Run(ack, func(t *testing.T) {
			t.Parallel()
			ctx, f := tqNewFixture(t)
			q := "ops_race_" + ack
			tqCreateQueue(ctx, t, f.pool, q, true)
			conns := f.connectN(ctx, t, 2)
			worker, admin := conns[0], conns[1]
			const rounds = 60
			wins := map[bool]int{}
			for i := range rounds {
				group := tqPtr("g")
				id := tqMustEnqueue(ctx, t, f.pool, q, map[string]int{"i": i}, group)
				claimed := tqMustRead(ctx, t, worker, q, 1, 60, tqReadOpts{grouped: true})
				require.Len(t, claimed, 1)
				require.Equal(t, id, claimed[0].MsgID)

				var (
					wg                 sync.WaitGroup
					acked, cancelled   bool
					ackErr, cancelErr  error
					gate               = tqNewGate(2)
					cancelStatus, outc string
				)
				wg.Add(2)
				go func() {
					defer wg.Done()
					gate.arrive()
					if ack == "complete" {
						acked, ackErr = tqComplete(ctx, worker, q, id, claimed[0].Attempt)
						return
					}
					ackErr = worker.QueryRow(ctx, `SELECT pgtq.fail($1, $2, $3, 'boom', false)`, q, id, claimed[0].Attempt).Scan(&outc)
					acked = outc == "dead_lettered"
				}()
				go func() {
					defer wg.Done()
					gate.arrive()
					cancelErr = admin.QueryRow(ctx, `SELECT cancelled, status FROM pgtq.cancel($1, $2)`, q, id).
						Scan(&cancelled, &cancelStatus)
				}()
				wg.Wait()
				require.NoError(t, ackErr)
				require.NoError(t, cancelErr)
				require.True(t, acked != cancelled, "round %d: exactly one wins (acked=%v cancelled=%v)", i, acked, cancelled)
				wins[cancelled]++
				if ack == "fail" && !acked {
					require.Equal(t, "lease_lost", outc)
				}

				wantStatus := map[string]string{"complete": "completed", "fail": "dead_lettered"}[ack]
				if cancelled {
					wantStatus = "cancelled"
					require.Equal(t, "processing", cancelStatus)
				} else {
					require.Equal(t, map[string]string{"complete": "completed", "fail": "dead_lettered"}[ack], cancelStatus,
						"the loser's cancel reports the archived status")
				}
				require.EqualValues(t, 0, tqCount(ctx, t, f.pool, `SELECT count(*) FROM `+table("q", q)+` WHERE msg_id = $1`, id))
				rows, err := f.pool.Query(ctx, `SELECT headers->>'x-pgtq-status' FROM `+table("a", q)+` WHERE msg_id = $1`, id)
				require.NoError(t, err)
				statuses, err := pgx.CollectRows(rows, pgx.RowTo[string])
				require.NoError(t, err)
				require.Equal(t, []string{wantStatus}, statuses, "round %d: archived once, by the winner", i)
				wantDLQ := 0
				if ack == "fail" && acked {
					wantDLQ = 1
				}
				require.EqualValues(t, wantDLQ, tqCount(ctx, t, f.pool,
					`SELECT count(*) FROM `+table("q", q+"_dlq")+` WHERE (message->>'msg_id')::bigint = $1`, id))
				require.EqualValues(t, 0, tqCount(ctx, t, f.pool,
					`SELECT count(*) FROM pgtq.groups WHERE queue_name = $1 AND busy_msg_id IS NOT NULL`, q), "group freed")
			}
			t.Logf("cancel won %d rounds, %s won %d", wins[true], ack, wins[false])
		})
	}
}
