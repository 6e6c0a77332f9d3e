// Package harness runs the webhook binary as a process against a control
// plane and drives it through the API server: shared by the end-to-end tests,
// the demo (make run) and the benchmark.
package harness
