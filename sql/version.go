package sql

import (
	"cmp"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
)

//go:generate go run ../internal/cmd/sqlversion -o versions.txt

// Version is a schema version "S.P": Migration (S) is the newest goose migration number, Patch (P) the
// function patch number within it (FunctionsPatch). Versions order by S, then P.
type Version struct {
	Migration int64
	Patch     int64
}

// String formats v as "S.P".
func (v Version) String() string {
	return fmt.Sprintf("%d.%d", v.Migration, v.Patch)
}

// Compare returns -1, 0 or +1 as v is older than, equal to or newer than w.
func (v Version) Compare(w Version) int {
	return cmp.Or(cmp.Compare(v.Migration, w.Migration), cmp.Compare(v.Patch, w.Patch))
}

// ParseVersion parses "S.P".
func ParseVersion(s string) (Version, error) {
	ms, ps, ok := strings.Cut(s, ".")
	if !ok {
		return Version{}, fmt.Errorf("schema version %q: want S.P", s)
	}
	m, err := strconv.ParseInt(ms, 10, 64)
	if err != nil || m < 0 {
		return Version{}, fmt.Errorf("schema version %q: bad migration number", s)
	}
	p, err := strconv.ParseInt(ps, 10, 64)
	if err != nil || p < 0 {
		return Version{}, fmt.Errorf("schema version %q: bad patch number", s)
	}
	return Version{Migration: m, Patch: p}, nil
}

// CurrentVersion returns the version of the embedded SQL: the newest embedded migration and FunctionsPatch.
func CurrentVersion() Version {
	return Version{Migration: LatestMigration(), Patch: FunctionsPatch}
}

// LatestMigration returns the number of the newest embedded migration (the NNNNN of migrations/NNNNN_name.sql).
func LatestMigration() int64 {
	entries, err := fs.ReadDir(Migrations, "migrations")
	if err != nil {
		panic(fmt.Sprintf("read embedded migrations: %v", err))
	}
	var latest int64
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		if !ok || e.IsDir() {
			continue
		}
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			// goose would refuse the file too; failing here is a build defect.
			panic(fmt.Sprintf("embedded migration %s: no version number", e.Name()))
		}
		latest = max(latest, n)
	}
	return latest
}
