package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pgtq/pgtq/worker"
)

// Main is worker.Main with Prometheus metrics: a worker binary's main calls
//
//	func main() { metrics.Main(emailProcessor, reportProcessor) }
//
// and gets every flag of worker.Main plus a working --metrics-addr host:port, which serves the worker
// metrics of this package and the Go runtime's at /metrics.
func Main(processors ...*worker.Processor) {
	worker.MainWith(MainOptions(), processors...)
}

// MainOptions returns the worker.MainOptions that Main uses, for binaries that call worker.MainWith
// themselves.
func MainOptions() *worker.MainOptions {
	return &worker.MainOptions{Metrics: mainMetrics}
}

// mainMetrics registers the worker metrics (hooked into opts) and the Go and process collectors on a
// registry of their own and returns its handler.
func mainMetrics(opts *worker.Options, slotsInUse func() int) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m, err := New(reg, nil)
	if err != nil {
		// A fresh registry holds nothing that could clash: a failure here is a defect of this package.
		panic("metrics: " + err.Error())
	}
	opts.Hooks = append(opts.Hooks, m.Hook())
	m.ObserveSlots(slotsInUse)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}
