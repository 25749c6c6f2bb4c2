package pgtest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { Main(m) }

func TestNewRoleURLLogsInAsMemberOfGroup(t *testing.T) {
	t.Parallel()
	for _, group := range Groups {
		t.Run(group, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			roleURL := NewRoleURL(t, NewDBURL(t), group)
			conn, err := pgx.Connect(ctx, roleURL)
			require.NoError(t, err)
			defer conn.Close(ctx)

			var user string
			var member, super bool
			var groups []string
			err = conn.QueryRow(ctx, `SELECT current_user, pg_has_role(current_user, $1, 'USAGE'),
				(SELECT rolsuper FROM pg_roles WHERE rolname = current_user),
				ARRAY(SELECT b.rolname FROM pg_auth_members m JOIN pg_roles b ON b.oid = m.roleid
				      WHERE m.member = (SELECT oid FROM pg_roles WHERE rolname = current_user))`, group).
				Scan(&user, &member, &super, &groups)
			require.NoError(t, err)
			require.NotEqual(t, "postgres", user)
			require.True(t, member, "USAGE of %s means the role inherits it", group)
			require.False(t, super)
			require.Equal(t, []string{group}, groups)
		})
	}
}
