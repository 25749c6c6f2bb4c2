// Package sqlversion reads and writes sql/versions.txt, the record of every released schema version "S.P" and
// the hash of its function and statement files, and checks that the embedded SQL matches its record, so that a
// change of the SQL cannot ship under a version number that already names other SQL.
//
// The file holds comment lines (#) and one line per version, oldest first: "S.P <sha256>".
package sqlversion

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"

	pgtqsql "github.com/pgtq/pgtq/sql"
)

// Header is written at the top of the file.
const Header = `# Released PGTQ schema versions "S.P <sha256 of sql/functions and sql/statements>", oldest first.
# S is the newest migration, P is sql.FunctionsPatch. Written by "go generate ./sql"; checked by the tests of
# package sql. Never change a released line: bump sql.FunctionsPatch instead.
`

// Regenerate is the command that records the current version, for messages.
const Regenerate = "go generate ./sql"

// Replace is the command that records a changed hash under an unchanged, unreleased version.
const Replace = "go run ./internal/cmd/sqlversion -replace"

// Entry is one recorded version.
type Entry struct {
	Version pgtqsql.Version
	Hash    string
}

// Parse reads the entries of a versions file; they must be in strictly increasing version order.
func Parse(r io.Reader) ([]Entry, error) {
	var entries []Entry
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 {
			return nil, fmt.Errorf("line %d: want \"S.P <hash>\", got %q", n, line)
		}
		v, err := pgtqsql.ParseVersion(fields[0])
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if k := len(entries); k > 0 && entries[k-1].Version.Compare(v) >= 0 {
			return nil, fmt.Errorf("line %d: version %s does not follow %s", n, v, entries[k-1].Version)
		}
		entries = append(entries, Entry{Version: v, Hash: fields[1]})
	}
	return entries, sc.Err()
}

// Format writes the header and the entries.
func Format(entries []Entry) []byte {
	var b bytes.Buffer
	b.WriteString(Header)
	for _, e := range entries {
		fmt.Fprintf(&b, "%s %s\n", e.Version, e.Hash)
	}
	return b.Bytes()
}

// Check returns an error, telling the developer what to do, unless the newest entry records version v with
// hash h.
func Check(entries []Entry, v pgtqsql.Version, h string) error {
	if len(entries) == 0 {
		return fmt.Errorf("sql/versions.txt records no version: run %q", Regenerate)
	}
	last := entries[len(entries)-1]
	switch c := last.Version.Compare(v); {
	case c > 0:
		return fmt.Errorf("sql/versions.txt records %s, newer than the embedded SQL's %s: "+
			"was sql.FunctionsPatch lowered or a migration removed?", last.Version, v)
	case c < 0:
		if last.Hash == h {
			return fmt.Errorf("schema %s has the same SQL as the recorded %s: run %q", v, last.Version, Regenerate)
		}
		return fmt.Errorf("schema %s is not recorded in sql/versions.txt: run %q", v, Regenerate)
	case last.Hash != h:
		return fmt.Errorf("the SQL of sql/functions or sql/statements changed, but schema %s was recorded with "+
			"hash %.12s (now %.12s): bump FunctionsPatch in sql/sql.go (or add a migration, which resets it to 0) "+
			"and run %q; only if %s was never released, run %q instead", v, last.Hash, h, Regenerate, v, Replace)
	}
	return nil
}

// Record returns entries with version v recorded with hash h: appended when v is newer than every entry,
// replaced when v is the newest entry and replace is set. Any other case is an error (released lines are
// never rewritten).
func Record(entries []Entry, v pgtqsql.Version, h string, replace bool) ([]Entry, error) {
	if len(entries) == 0 {
		return []Entry{{Version: v, Hash: h}}, nil
	}
	last := entries[len(entries)-1]
	switch c := last.Version.Compare(v); {
	case c < 0:
		return append(entries, Entry{Version: v, Hash: h}), nil
	case c > 0:
		return nil, fmt.Errorf("versions.txt records %s, newer than the embedded SQL's %s", last.Version, v)
	case last.Hash == h:
		return entries, nil
	case !replace:
		return nil, fmt.Errorf("schema %s is recorded with another hash: bump FunctionsPatch in sql/sql.go, "+
			"or pass -replace if %s was never released", v, v)
	}
	out := append([]Entry(nil), entries[:len(entries)-1]...)
	return append(out, Entry{Version: v, Hash: h}), nil
}
