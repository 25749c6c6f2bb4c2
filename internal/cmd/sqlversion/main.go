// Command sqlversion records the embedded SQL's schema version "S.P" and hash in sql/versions.txt (see package
// internal/sqlversion). Run it through "go generate ./sql" after bumping sql.FunctionsPatch or adding a
// migration; -replace rewrites the hash of the newest version, for a version that was never released.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"

	pgtqsql "github.com/pgtq/pgtq/sql"

	"github.com/pgtq/pgtq/internal/sqlversion"
)

func main() {
	out := flag.String("o", "sql/versions.txt", "the versions file")
	replace := flag.Bool("replace", false, "rewrite the hash of the current version if it is recorded with another one")
	flag.Parse()
	if err := run(*out, *replace); err != nil {
		fmt.Fprintln(os.Stderr, "sqlversion:", err)
		os.Exit(1)
	}
}

func run(path string, replace bool) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	entries, err := sqlversion.Parse(bytes.NewReader(old))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	v, h := pgtqsql.CurrentVersion(), pgtqsql.FunctionsHash()
	entries, err = sqlversion.Record(entries, v, h, replace)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	b := sqlversion.Format(entries)
	if bytes.Equal(b, old) {
		fmt.Printf("%s: schema %s %.12s already recorded\n", path, v, h)
		return nil
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return err
	}
	fmt.Printf("%s: recorded schema %s %.12s\n", path, v, h)
	return nil
}
