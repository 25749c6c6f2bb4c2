package pgtqtest

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"
)

// ExamplesMain runs a package's tests and its Example functions that talk to a database, as a TestMain:
//
//	func TestMain(m *testing.M) { pgtqtest.ExamplesMain(m, "") }
//
// With PGTQ_DATABASE_URL set it creates a fresh migrated database for the run, puts its URL in DATABASE_URL
// (where Examples connect, as an application would) and drops it afterwards. Without it, when no -run was
// given, only the tests and the Examples whose names match withoutDB (a regular expression, "" for none) run,
// and a message says why the others were left out. It exits the process with the tests' code.
func ExamplesMain(m *testing.M, withoutDB string) {
	flag.Parse()
	if os.Getenv(URLEnv) == "" {
		if run := flag.Lookup("test.run"); run != nil && run.Value.String() == "" {
			fmt.Fprintf(os.Stderr, "pgtqtest: examples that need a database skipped: %s is not set\n", URLEnv)
			pattern := "^Test"
			if withoutDB != "" {
				pattern = "^(Test|" + withoutDB + ")"
			}
			_ = flag.Set("test.run", pattern)
		}
		os.Exit(m.Run())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	dbURL, drop, err := CreateDB(ctx)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgtqtest: examples:", err)
		os.Exit(1)
	}
	os.Setenv("DATABASE_URL", dbURL)
	code := m.Run()
	if err := drop(); err != nil {
		fmt.Fprintln(os.Stderr, "pgtqtest: examples:", err)
	}
	os.Exit(code)
}
