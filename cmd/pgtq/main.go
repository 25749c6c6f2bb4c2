// Command pgtq is PGTQ's admin CLI: it lists and inspects queues and tasks, cancels, retries, pauses and
// resumes, reschedules and purges dead-letter queues, serves the HTTP API (package httpapi) and migrates the
// schema (the same code as pgtq-migrate).
//
// Usage:
//
//	pgtq [flags] COMMAND [ARGS] [flags]
//
//	queues                                  every queue's counts (queued, delayed, processing, ...), paused
//	stats [QUEUE] [--watch]                 one queue's counts (all queues without QUEUE); --watch repeats
//	                                        every --interval until interrupted
//	tasks QUEUE [--status S] [--group G]    the tasks in the queue (S: queued, delayed, processing, retrying),
//	      [--after MSG_ID] [--limit N]      msg_id ascending, a page of --limit (default 100, at most 1000)
//	task QUEUE ID                           a task and its history (ID: a msg_id, or a task id)
//	dlq QUEUE [--limit N]                   the dead-letter entries, oldest first
//	reschedule QUEUE ID|--all               DLQ entry ID (or every entry; --group, --error-contains filter)
//	                                        back into the queue
//	cancel QUEUE ID                         take task ID out of the queue (archived as cancelled)
//	retry QUEUE ID                          make a retrying or delayed task due now
//	pause QUEUE | resume QUEUE              stop / restart claims from the queue (running tasks finish)
//	purge-dlq QUEUE --older-than D          delete DLQ entries older than D (e.g. 72h, 7d; 0 = all)
//	serve [--addr ADDR] [--writes]          the HTTP API (writes need the token in $PGTQ_API_TOKEN)
//	migrate up|down|redo|status|version     the schema migrator (as pgtq-migrate)
//
// Flags may come before or after the command. Tables are aligned for people; --json prints JSON for scripts.
// The connection comes from --database-url, else DATABASE_URL, else the standard PG* variables; with none of
// them pgtq refuses. Exit codes: 0 success, 1 database error, 2 bad usage, 3 not found (the queue, the task, or
// a task that is no longer in a state the command applies to, e.g. cancel of a completed task).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
