package driver

import (
	"encoding/json"
	"time"
)

// TaskError is one entry of a task's error history: a recorded failure, or a lease that expired with no
// recorded outcome (the x-pgtq-error-log header).
type TaskError struct {
	// Attempt is the attempt that failed or whose lease was lost (0 when the history came from a writer that
	// kept only the error strings, such as the seed's Python workers).
	Attempt int `json:"attempt"`
	// Error is the error text ("lease expired" for a lost lease).
	Error string `json:"error"`
	// At is when it was recorded (zero when unknown).
	At time.Time `json:"at"`
	// Kind is ErrorKindFailure or ErrorKindLeaseExpired ("" when unknown).
	Kind string `json:"kind"`
}

// The kinds of TaskError.
const (
	// ErrorKindFailure is a failure the handler reported (an error, a panic, a timeout, an invalid payload).
	ErrorKindFailure = "failure"
	// ErrorKindLeaseExpired is a lease that expired with no recorded outcome (the worker crashed or stalled).
	ErrorKindLeaseExpired = "lease_expired"
)

// errorHistory returns a task's error history from its headers: the structured x-pgtq-error-log when present,
// else the error strings of x-pgtq-errors (the seed's format: a list of strings; entries written as objects
// by earlier PGTQ versions are read too), else fallback (a DLQ body's errors field), which has the same forms.
func errorHistory(headers map[string]any, fallback json.RawMessage) []TaskError {
	if log, ok := headers["x-pgtq-error-log"].([]any); ok {
		return decodeErrors(log)
	}
	if list, ok := headers["x-pgtq-errors"].([]any); ok {
		return decodeErrors(list)
	}
	var list []any
	if len(fallback) > 0 && json.Unmarshal(fallback, &list) == nil {
		return decodeErrors(list)
	}
	return nil
}

// decodeErrors reads entries that are either strings or {attempt, error, at, kind} objects; anything else is
// skipped.
func decodeErrors(list []any) []TaskError {
	out := make([]TaskError, 0, len(list))
	for _, e := range list {
		switch v := e.(type) {
		case string:
			out = append(out, TaskError{Error: v})
		case map[string]any:
			te := TaskError{}
			te.Error, _ = v["error"].(string)
			te.Kind, _ = v["kind"].(string)
			if n, ok := v["attempt"].(float64); ok {
				te.Attempt = int(n)
			}
			if s, ok := v["at"].(string); ok {
				te.At, _ = time.Parse(time.RFC3339Nano, s)
			}
			out = append(out, te)
		}
	}
	return out
}
