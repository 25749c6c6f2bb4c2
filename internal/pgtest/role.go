package pgtest

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Groups are the NOLOGIN roles that the pgtq migrations create; NewRoleURL makes a login member of one of them.
var Groups = []string{"pgtq_producer", "pgtq_worker", "pgtq_admin"}

// NewRoleURL creates a fresh LOGIN role that inherits the privileges of exactly one group (pgtq_producer,
// pgtq_worker or pgtq_admin) and returns dbURL with that role's name and a random password as its user.
//
// The role is cluster-wide and uniquely named. When the test ends it is dropped: its sessions are terminated,
// whatever it owns in dbURL's database is dropped, then the role itself. Cleanups run last-registered first, so
// pools opened after this call and closed with t.Cleanup (as NewDB does) are closed before the role goes, and
// the role goes before the database behind dbURL (which must therefore come from NewDBURL or NewEmptyDBURL
// called earlier, or outlive the test).
func NewRoleURL(t testing.TB, dbURL, group string) string {
	t.Helper()
	if serverURL == "" {
		t.Fatal("pgtest: call pgtest.Main from TestMain")
	}
	known := false
	for _, g := range Groups {
		known = known || g == group
	}
	if !known {
		t.Fatalf("pgtest: NewRoleURL: group must be one of %v, got %q", Groups, group)
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatalf("pgtest: NewRoleURL: parse database URL: %v", err)
	}
	db := u.Path
	if len(db) > 0 && db[0] == '/' {
		db = db[1:]
	}

	name := "pgtq_test_role_" + randomSuffix()
	password := randomSuffix() + randomSuffix()
	ident := pgx.Identifier{name}.Sanitize()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The password is hex, so quoting it needs no escaping; CREATE ROLE takes no bind parameters.
	err = adminExec(ctx, fmt.Sprintf("CREATE ROLE %s LOGIN INHERIT PASSWORD '%s' IN ROLE %s",
		ident, password, pgx.Identifier{group}.Sanitize()))
	if err != nil {
		t.Fatalf("pgtest: create role in %s: %v", group, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := dropRole(ctx, name, db); err != nil {
			t.Errorf("pgtest: drop role %s: %v", name, err)
		}
	})

	u.User = url.UserPassword(name, password)
	return u.String()
}

// dropRole ends the role's sessions, drops what it owns in database db (when that still exists) and drops it.
func dropRole(ctx context.Context, name, db string) error {
	ident := pgx.Identifier{name}.Sanitize()
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", name); err != nil {
		return fmt.Errorf("terminate sessions: %w", err)
	}
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", db).Scan(&exists); err != nil {
		return err
	}
	if exists && db != "" {
		dbConn, err := pgx.Connect(ctx, WithDatabase(serverURL, db))
		if err != nil {
			return fmt.Errorf("connect %s: %w", db, err)
		}
		_, err = dbConn.Exec(ctx, "DROP OWNED BY "+ident)
		dbConn.Close(context.Background())
		if err != nil {
			return fmt.Errorf("drop owned in %s: %w", db, err)
		}
	}
	_, err = conn.Exec(ctx, "DROP ROLE IF EXISTS "+ident)
	return err
}
