package gotest

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/pgtq/pgtq/driver"
	"github.com/pgtq/pgtq/worker"
)

type groupPayload struct {
	Group string `json:"group"`
	Seq   int    `json:"seq"`
}

func TestWorkerStrictGroupsFIFO(t *testing.T) { t.Parallel(); testWorkerStrictGroups(t, false) }
func TestWorkerStrictGroupsLIFO(t *testing.T) { t.Parallel(); testWorkerStrictGroups(t, true) }

// testWorkerStrictGroups runs 4 groups of 6 tasks on a worker with concurrency 8 and checks from the
// recorded start/end times that no two tasks of a group overlapped and that each group ran in order
// (enqueue order for FIFO, reversed for LIFO), while different groups did run in parallel.
func testWorkerStrictGroups(t *testing.T, lifo bool) {
	const groups, perGroup = 4, 6
	b := setupWorker(t)
	q := b.newQueue(t, false)
	var runs spans
	p := worker.NewProcessor(q, func(ctx context.Context, in groupPayload) error {
		info, _ := worker.TaskFromContext(ctx)
		sp := span{group: info.GroupKey, seq: in.Seq, start: time.Now()}
		time.Sleep(15 * time.Millisecond) // simulated work, so that overlaps would show
		sp.end = time.Now()
		runs.add(sp)
		return nil
	}, &worker.ProcessorOptions{Grouped: true, LIFO: lifo})
	// Everything is enqueued before the worker starts, so LIFO sees the whole backlog.
	for seq := range perGroup {
		for g := range groups {
			group := fmt.Sprintf("g%d", g)
			b.enqueue(t, q, groupPayload{Group: group, Seq: seq}, &driver.EnqueueOptions{Group: group})
		}
	}
	_, _ = b.runWorker(t, &worker.Options{Processors: []*worker.Processor{p}, ConcurrencyLimit: 8,
		PollInterval: 50 * time.Millisecond})
	waitUntil(t, 20*time.Second, "all tasks completed", func() bool { return runs.len() == groups*perGroup })

	byGroup := map[string][]span{}
	all := runs.snapshot()
	for _, sp := range all {
		byGroup[sp.group] = append(byGroup[sp.group], sp)
	}
	require.Len(t, byGroup, groups)
	for g, ss := range byGroup {
		sort.Slice(ss, func(i, j int) bool { return ss[i].start.Before(ss[j].start) })
		for i := 1; i < len(ss); i++ {
			require.False(t, ss[i].start.Before(ss[i-1].end), "group %s: seq %d started before seq %d ended", g, ss[i].seq, ss[i-1].seq)
			if lifo {
				require.Less(t, ss[i].seq, ss[i-1].seq, "group %s out of LIFO order", g)
			} else {
				require.Greater(t, ss[i].seq, ss[i-1].seq, "group %s out of FIFO order", g)
			}
		}
	}
	// Groups ran side by side: some two spans of different groups overlapped.
	overlap := false
	for i := range all {
		for j := range all {
			if all[i].group != all[j].group && all[i].start.Before(all[j].end) && all[j].start.Before(all[i].end) {
				overlap = true
			}
		}
	}
	require.True(t, overlap, "different groups never ran in parallel")
}

func TestWorkerQueueConcurrencyLimitAcrossWorkers(t *testing.T) {
	t.Parallel()
	const limit, tasks = 3, 30
	b := setupWorker(t)
	q := b.newQueue(t, false)
	var inFlight gauge
	var runs spans
	handler := func(ctx context.Context, _ numPayload) error {
		inFlight.inc()
		defer inFlight.dec()
		time.Sleep(20 * time.Millisecond) // simulated work
		runs.add(span{})
		return nil
	}
	for range 3 {
		p := worker.NewProcessor(q, handler, &worker.ProcessorOptions{ConcurrencyLimit: limit})
		// Each worker alone could run 4; together 12. The queue limit must hold them to 3.
		_, _ = b.runWorker(t, &worker.Options{Processors: []*worker.Processor{p}, ConcurrencyLimit: 4,
			PollInterval: 20 * time.Millisecond})
	}
	payloads := make([]any, tasks)
	for i := range payloads {
		payloads[i] = numPayload{N: i}
	}
	_, err := b.client.EnqueueBatch(b.ctx, q, payloads, nil)
	require.NoError(t, err)
	waitUntil(t, 20*time.Second, "all tasks completed", func() bool { return b.archived(t, q, "completed") == tasks })
	require.Equal(t, tasks, runs.len())
	require.LessOrEqual(t, inFlight.peak(), limit)
	require.GreaterOrEqual(t, inFlight.peak(), 2, "the limit should still allow parallel work")
}

func TestWorkerConcurrencyLimit(t *testing.T) {
	t.Parallel()
	const limit, tasks = 3, 24
	b := setupWorker(t)
	q1, q2 := b.newQueue(t, false), b.newQueue(t, false)
	var inFlight gauge
	var runs spans
	// Tasks of both queues holding a lease whose handler has not returned, seen from the database. A slot
	// is free when its handler returns (the completion commits a little later, in a batch), so a task whose
	// handler returned may still hold its lease while a new task takes its slot: those are not counted.
	var claimedPeak gauge
	var returnedMu sync.Mutex
	returned := map[string]bool{} // "queue/msg_id" of handlers that returned
	handler := func(ctx context.Context, _ numPayload) error {
		inFlight.inc()
		defer inFlight.dec()
		info, _ := worker.TaskFromContext(ctx)
		defer func() {
			returnedMu.Lock()
			returned[fmt.Sprintf("%s/%d", info.Queue, info.MsgID)] = true
			returnedMu.Unlock()
		}()
		rows, err := b.pool.Query(ctx, `
			SELECT $1::text, msg_id FROM `+table("q", q1)+` WHERE vt > clock_timestamp()
			UNION ALL
			SELECT $2::text, msg_id FROM `+table("q", q2)+` WHERE vt > clock_timestamp()`, q1, q2)
		if err != nil {
			return err
		}
		leasedKeys, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (string, error) {
			var q string
			var id int64
			err := row.Scan(&q, &id)
			return fmt.Sprintf("%s/%d", q, id), err
		})
		if err != nil {
			return err
		}
		// Read after the snapshot: a handler that returned since then is not counted, which can only lower
		// the count, so an over-claim (more unfinished leases than slots) still shows.
		returnedMu.Lock()
		leased := 0
		for _, k := range leasedKeys {
			if !returned[k] {
				leased++
			}
		}
		returnedMu.Unlock()
		claimedPeak.mu.Lock()
		claimedPeak.max = max(claimedPeak.max, leased)
		claimedPeak.mu.Unlock()
		time.Sleep(20 * time.Millisecond) // simulated work
		runs.add(span{})
		return nil
	}
	_, _ = b.runWorker(t, &worker.Options{
		Processors: []*worker.Processor{
			worker.NewProcessor(q1, handler, nil),
			worker.NewProcessor(q2, handler, nil),
		},
		ConcurrencyLimit: limit,
	})
	payloads := make([]any, tasks/2)
	for i := range payloads {
		payloads[i] = numPayload{N: i}
	}
	for _, q := range []string{q1, q2} {
		_, err := b.client.EnqueueBatch(b.ctx, q, payloads, nil)
		require.NoError(t, err)
	}
	waitUntil(t, 20*time.Second, "all tasks completed", func() bool { return runs.len() == tasks })
	require.Equal(t, limit, inFlight.peak(), "worker ran more (or fewer) tasks at once than its limit")
	// Never claimed more than it could start: leases held by unfinished tasks never exceeded the slots.
	require.LessOrEqual(t, claimedPeak.peak(), limit)
	require.GreaterOrEqual(t, claimedPeak.peak(), 1, "the handler saw its own lease")
}
