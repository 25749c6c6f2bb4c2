package pgtqtest

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pgtq/pgtq/driver"
)

// RequireOpts narrows which enqueued task RequireEnqueued and RequireNotEnqueued look for. A nil *RequireOpts
// means any task of the queue with the payload.
type RequireOpts struct {
	// Group is the task's group. Defaults to "" (any group, or none).
	Group string
	// Ungrouped requires a task without a group. Defaults to false.
	Ungrouped bool
	// Delay is the delay the task was enqueued with (its visibility time minus its enqueue time, to the
	// second); only tasks never claimed still show it. Defaults to 0 (not checked).
	Delay time.Duration
	// Count is the number of matching tasks required. Defaults to 0 (at least one).
	Count int
}

// RequireEnqueued fails the test unless queue holds a task, not yet finished, whose payload equals payload as
// JSON (payload may be a struct, a map, a json.RawMessage or a []byte of JSON; nil matches any payload) and
// that matches opts. It returns the matching tasks, oldest first. It reads the queue with pgtq.list_tasks
// (the client's role needs pgtq_admin, as a test database's owner has).
func RequireEnqueued(t testing.TB, client *driver.Client, queue string, payload any, opts *RequireOpts) []driver.TaskView {
	t.Helper()
	var o RequireOpts
	if opts != nil {
		o = *opts
	}
	all, matched := find(t, client, queue, payload, o)
	switch {
	case o.Count == 0 && len(matched) > 0, o.Count > 0 && len(matched) == o.Count:
		return matched
	case o.Count > 0:
		t.Fatalf("pgtqtest: want %d tasks in %q with payload %s%s, found %d\n%s", o.Count, queue, show(payload),
			o.describe(), len(matched), listing(all))
	default:
		t.Fatalf("pgtqtest: no task in %q with payload %s%s\n%s", queue, show(payload), o.describe(), listing(all))
	}
	return nil
}

// RequireNotEnqueued fails the test when queue holds a task, not yet finished, that RequireEnqueued would
// match (opts.Count is ignored).
func RequireNotEnqueued(t testing.TB, client *driver.Client, queue string, payload any, opts *RequireOpts) {
	t.Helper()
	var o RequireOpts
	if opts != nil {
		o = *opts
	}
	all, matched := find(t, client, queue, payload, o)
	if len(matched) > 0 {
		t.Fatalf("pgtqtest: want no task in %q with payload %s%s, found %d\n%s", queue, show(payload), o.describe(),
			len(matched), listing(all))
	}
}

// find lists the queue's tasks (all pages) and those that match.
func find(t testing.TB, client *driver.Client, queue string, payload any, o RequireOpts) (all, matched []driver.TaskView) {
	t.Helper()
	var want any
	if payload != nil {
		raw, err := toJSON(payload)
		if err != nil {
			t.Fatalf("pgtqtest: payload: %v", err)
		}
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatalf("pgtqtest: payload: %v", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var after int64
	for {
		page, err := client.ListTasks(ctx, queue, &driver.ListTasksOptions{After: after, Limit: driver.ListLimitMax})
		if err != nil {
			t.Fatalf("pgtqtest: list tasks of %q: %v", queue, err)
		}
		all = append(all, page...)
		if len(page) < driver.ListLimitMax {
			break
		}
		after = page[len(page)-1].MsgID
	}
	for _, tv := range all {
		if o.matches(tv, want, payload == nil) {
			matched = append(matched, tv)
		}
	}
	return all, matched
}

func (o RequireOpts) matches(tv driver.TaskView, want any, anyPayload bool) bool {
	if !anyPayload {
		var have any
		if json.Unmarshal(tv.Message, &have) != nil || !reflect.DeepEqual(have, want) {
			return false
		}
	}
	switch {
	case o.Group != "" && tv.GroupKey != o.Group, o.Ungrouped && tv.GroupKey != "":
		return false
	case o.Delay > 0:
		// pgmq sets vt = enqueue time + delay, in whole seconds.
		got := tv.VisibleAt.Sub(tv.EnqueuedAt)
		if tv.ReadCount > 0 || (got-o.Delay).Abs() > time.Second {
			return false
		}
	}
	return true
}

func (o RequireOpts) describe() string {
	var parts []string
	if o.Group != "" {
		parts = append(parts, fmt.Sprintf("group %q", o.Group))
	}
	if o.Ungrouped {
		parts = append(parts, "no group")
	}
	if o.Delay > 0 {
		parts = append(parts, fmt.Sprintf("delay %s", o.Delay))
	}
	if len(parts) == 0 {
		return ""
	}
	return " and " + strings.Join(parts, ", ")
}

func toJSON(v any) (json.RawMessage, error) {
	switch v := v.(type) {
	case json.RawMessage:
		return v, nil
	case []byte:
		return v, nil
	case string:
		if json.Valid([]byte(v)) {
			return json.RawMessage(v), nil
		}
	}
	return json.Marshal(v)
}

func show(payload any) string {
	if payload == nil {
		return "(any)"
	}
	raw, err := toJSON(payload)
	if err != nil {
		return fmt.Sprintf("%v", payload)
	}
	return string(raw)
}

// listing describes up to 20 tasks for a failure message.
func listing(ts []driver.TaskView) string {
	if len(ts) == 0 {
		return "the queue holds no task"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "the queue holds %d tasks:", len(ts))
	for i, tv := range ts {
		if i == 20 {
			fmt.Fprintf(&b, "\n  ... and %d more", len(ts)-20)
			break
		}
		fmt.Fprintf(&b, "\n  msg %d %s group=%q delay=%s reads=%d payload=%s", tv.MsgID, tv.Status, tv.GroupKey,
			tv.VisibleAt.Sub(tv.EnqueuedAt).Round(time.Second), tv.ReadCount, tv.Message)
	}
	return b.String()
}
