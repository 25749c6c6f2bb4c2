package gotest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pgtq/pgtq/internal/pgtest"
)

// TestPgmqInteropPgmqJS runs tests/interop/pgmq_js.mjs: the npm client pgmq-js, created with
// skipExtensionCreation, calls every method it has against a fresh database migrated by PGTQ. It skips when node
// or the client is not installed (install it with `npm ci` in tests/interop, from the lockfile).
func TestPgmqInteropPgmqJS(t *testing.T) {
	t.Parallel()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: skipping the pgmq-js interop test")
	}
	dir, err := filepath.Abs(filepath.Join("..", "interop"))
	require.NoError(t, err)
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "pgmq-js", "package.json")); err != nil {
		t.Skipf("pgmq-js is not installed: run `npm ci` in %s to run the pgmq-js interop test", dir)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(dir, "pgmq_js.mjs"))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PGTQ_INTEROP_URL="+pgtest.NewDBURL(t))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "pgmq-js against schema pgmq:\n%s", out)
	require.True(t, strings.HasPrefix(string(out), "ok "), "pgmq-js against schema pgmq:\n%s", out)
}
