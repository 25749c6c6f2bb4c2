package sql_test

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pgtq/pgtq/internal/sqlversion"
	pgtqsql "github.com/pgtq/pgtq/sql"
)

// TestFunctionsHashIsRecorded fails when the function or statement files changed but the schema version did
// not: the message says to bump FunctionsPatch and run the generator.
func TestFunctionsHashIsRecorded(t *testing.T) {
	t.Parallel()
	f, err := os.Open("versions.txt")
	require.NoError(t, err, "sql/versions.txt: run %q", sqlversion.Regenerate)
	defer f.Close()
	entries, err := sqlversion.Parse(f)
	require.NoError(t, err, "sql/versions.txt")
	if err := sqlversion.Check(entries, pgtqsql.CurrentVersion(), pgtqsql.FunctionsHash()); err != nil {
		t.Fatal(err)
	}
}

func TestCurrentVersionIsNewestMigrationAndPatch(t *testing.T) {
	t.Parallel()
	entries, err := os.ReadDir("migrations")
	require.NoError(t, err)
	last := entries[len(entries)-1].Name()
	v := pgtqsql.CurrentVersion()
	require.Equal(t, pgtqsql.LatestMigration(), v.Migration)
	require.Equal(t, last[:5], fmt.Sprintf("%05d", v.Migration), "S is the number of %s", last)
	require.EqualValues(t, pgtqsql.FunctionsPatch, v.Patch)
	require.LessOrEqual(t, int64(pgtqsql.CompatibleSince), v.Migration, "CompatibleSince cannot exceed the newest migration")
	require.Positive(t, pgtqsql.CompatibleSince)
}

func TestVersionParseAndOrder(t *testing.T) {
	t.Parallel()
	v, err := pgtqsql.ParseVersion("6.10")
	require.NoError(t, err)
	require.Equal(t, pgtqsql.Version{Migration: 6, Patch: 10}, v)
	require.Equal(t, "6.10", v.String())
	for _, bad := range []string{"6", "6.", ".1", "a.1", "6.-1", "-6.1"} {
		_, err := pgtqsql.ParseVersion(bad)
		require.Error(t, err, bad)
	}
	require.Equal(t, 1, v.Compare(pgtqsql.Version{Migration: 6, Patch: 9}), "patch numbers compare as numbers")
	require.Equal(t, -1, v.Compare(pgtqsql.Version{Migration: 7}))
	require.Equal(t, 0, v.Compare(v))
}

func TestVersionsRecordAndCheck(t *testing.T) {
	t.Parallel()
	v60, v61 := pgtqsql.Version{Migration: 6}, pgtqsql.Version{Migration: 6, Patch: 1}

	entries, err := sqlversion.Record(nil, v60, "aaa", false)
	require.NoError(t, err)
	require.NoError(t, sqlversion.Check(entries, v60, "aaa"))

	// Changed SQL under the same version: the check names the fix, Record refuses without -replace.
	err = sqlversion.Check(entries, v60, "bbb")
	require.ErrorContains(t, err, "bump FunctionsPatch")
	require.ErrorContains(t, err, sqlversion.Regenerate)
	_, err = sqlversion.Record(entries, v60, "bbb", false)
	require.Error(t, err)
	replaced, err := sqlversion.Record(entries, v60, "bbb", true)
	require.NoError(t, err)
	require.Equal(t, []sqlversion.Entry{{Version: v60, Hash: "bbb"}}, replaced)

	// A bumped patch is recorded after the released line, which stays.
	require.ErrorContains(t, sqlversion.Check(entries, v61, "bbb"), "not recorded")
	entries, err = sqlversion.Record(entries, v61, "bbb", false)
	require.NoError(t, err)
	require.NoError(t, sqlversion.Check(entries, v61, "bbb"))
	require.ErrorContains(t, sqlversion.Check(entries, v60, "aaa"), "newer")
	_, err = sqlversion.Record(entries, v60, "aaa", true)
	require.Error(t, err, "released lines are never rewritten")

	parsed, err := sqlversion.Parse(bytes.NewReader(sqlversion.Format(entries)))
	require.NoError(t, err)
	require.Equal(t, entries, parsed)
	_, err = sqlversion.Parse(strings.NewReader("6.1 bbb\n6.0 aaa\n"))
	require.ErrorContains(t, err, "does not follow")
}
