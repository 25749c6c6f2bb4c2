// Command metricsworker is a worker binary built with metrics.Main, for tests of --metrics-addr: it serves
// the queue named by PGTQ_TEST_QUEUE with a handler that succeeds.
package main

import (
	"context"
	"encoding/json"
	"os"

	"github.com/pgtq/pgtq/metrics"
	"github.com/pgtq/pgtq/worker"
)

func main() {
	metrics.Main(worker.NewProcessor(os.Getenv("PGTQ_TEST_QUEUE"),
		func(context.Context, json.RawMessage) error { return nil }, nil))
}
