package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseFlagsDurations(t *testing.T) {
	t.Parallel()
	c, err := parseFlags("w", nil, io.Discard)
	require.NoError(t, err)
	require.Equal(t, PollIntervalDefault, c.pollInterval)
	require.Equal(t, PollExceptionIntervalDefault, c.pollErrInterval)
	require.Equal(t, PruneIntervalDefault, c.pruneInterval)
	require.Equal(t, ArchiveRetentionDefault, c.retention)
	require.Equal(t, ShutdownTimeoutDefault, c.shutdownTimeout)
	require.Equal(t, "text", c.logFormat)
	require.Equal(t, slog.LevelInfo, c.logLevel)

	// The seed's numbers, in the unit of each flag's name.
	c, err = parseFlags("w", []string{"--poll-interval-seconds", "0.25", "--poll-exception-interval-seconds", "3",
		"--prune-interval", "90", "--archive-retention-hours", "36", "--shutdown-timeout-seconds", "0"}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, 250*time.Millisecond, c.pollInterval)
	require.Equal(t, 3*time.Second, c.pollErrInterval)
	require.Equal(t, 90*time.Minute, c.pruneInterval)
	require.Equal(t, 36*time.Hour, c.retention)
	require.Equal(t, time.Duration(0), c.shutdownTimeout)

	// Go durations.
	c, err = parseFlags("w", []string{"--poll-interval-seconds", "250ms", "--poll-exception-interval-seconds", "90s",
		"--prune-interval", "12h", "--archive-retention-hours", "168h", "--shutdown-timeout-seconds", "1m30s"}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, 250*time.Millisecond, c.pollInterval)
	require.Equal(t, 90*time.Second, c.pollErrInterval)
	require.Equal(t, 12*time.Hour, c.pruneInterval)
	require.Equal(t, 7*24*time.Hour, c.retention)
	require.Equal(t, 90*time.Second, c.shutdownTimeout)

	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--poll-interval-seconds", "abc"}, "invalid value"},
		{[]string{"--poll-interval-seconds", "NaN"}, "invalid value"},
		{[]string{"--poll-interval-seconds", "0"}, "--poll-interval-seconds must be > 0"},
		{[]string{"--poll-interval-seconds", "-1s"}, "--poll-interval-seconds must be > 0"},
		{[]string{"--prune-interval", "-5"}, "--prune-interval must be >= 0"},
		{[]string{"--archive-retention-hours", "0s"}, "--archive-retention-hours must be > 0"},
		{[]string{"--shutdown-timeout-seconds", "-1"}, "--shutdown-timeout-seconds must be >= 0"},
		{[]string{"--log-format", "xml"}, "--log-format must be text or json"},
		{[]string{"--log-level", "loud"}, "--log-level must be debug, info, warn or error"},
	} {
		_, err := parseFlags("w", c.args, io.Discard)
		require.ErrorContains(t, err, c.msg, "%v", c.args)
	}
}

func TestParseFlagsLogging(t *testing.T) {
	t.Parallel()
	for level, want := range map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo,
		"warn": slog.LevelWarn, "ERROR": slog.LevelError} {
		c, err := parseFlags("w", []string{"--log-level", level, "--log-format", "json"}, io.Discard)
		require.NoError(t, err)
		require.Equal(t, want, c.logLevel)
	}

	var buf bytes.Buffer
	log := newLogger(&buf, "json", slog.LevelWarn)
	log.Info("hidden")
	log.Warn("shown", "queue", "q")
	var rec map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &rec), buf.String())
	require.Equal(t, "shown", rec["msg"])
	require.Equal(t, "WARN", rec["level"])
	require.Equal(t, "q", rec["queue"])

	buf.Reset()
	log = newLogger(&buf, "text", slog.LevelDebug)
	log.Debug("detail")
	require.True(t, strings.Contains(buf.String(), "level=DEBUG msg=detail"), buf.String())
}

// TestRunMainUsage checks that the help lists the new flags and that bad ones exit 2 before any connection.
func TestRunMainUsage(t *testing.T) {
	t.Parallel()
	p := NewProcessor("q", func(context.Context, struct{}) error { return nil }, nil)
	var out bytes.Buffer
	require.Equal(t, ExitOK, runMain(context.Background(), "w", []string{"--help"}, func(string) string { return "" }, &out, []*Processor{p}, nil))
	for _, f := range []string{"-log-format", "-log-level", "Go duration"} {
		require.Contains(t, out.String(), f)
	}
	out.Reset()
	require.Equal(t, ExitUsage, runMain(context.Background(), "w", []string{"--log-level", "verbose"}, func(string) string { return "" }, &out, []*Processor{p}, nil))
	require.Contains(t, out.String(), "--log-level must be")
}
