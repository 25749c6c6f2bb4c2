package driver

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
)

func TestSecondsRoundsUp(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]int{
		0:                       0,
		time.Nanosecond:         1,
		999 * time.Millisecond:  1,
		time.Second:             1,
		1500 * time.Millisecond: 2,
		time.Hour:               3600,
	} {
		require.Equal(t, want, seconds(d), "seconds(%s)", d)
	}
}

func TestInterpretError(t *testing.T) {
	t.Parallel()
	for code, sentinel := range map[string]error{
		"PQ001": ErrQueueNotFound,
		"42P01": ErrQueueNotFound,
		"PQ002": ErrInvalidQueueName,
		"PQ003": ErrInvalidArgument,
		"PQ004": ErrInvalidPayload,
		"PQ005": ErrMessageNotFound,
	} {
		pgErr := &pgconn.PgError{Code: code, Message: "msg " + code}
		err := fmt.Errorf("ctx: %w", interpretError(fmt.Errorf("query: %w", pgErr)))
		require.ErrorIs(t, err, sentinel, code)
		var got *pgconn.PgError
		require.True(t, errors.As(err, &got), code)
		require.Same(t, pgErr, got)
		require.Contains(t, err.Error(), "msg "+code)
		require.Contains(t, err.Error(), code)
	}

	// Other database errors and non-database errors pass through untouched.
	other := &pgconn.PgError{Code: "23505"}
	require.Same(t, other, interpretError(other))
	plain := errors.New("plain")
	require.Same(t, plain, interpretError(plain))
	require.NoError(t, interpretError(nil))
}

type selfChecking struct{ OK bool }

var errNotOK = errors.New("not ok")

func (s selfChecking) Validate() error {
	if !s.OK {
		return errNotOK
	}
	return nil
}

type pointerChecking struct{ N int }

func (p *pointerChecking) Validate() error {
	if p.N < 0 {
		return errNotOK
	}
	return nil
}

func TestEncodePayload(t *testing.T) {
	t.Parallel()
	b, err := encodePayload(json.RawMessage(`{"a":1}`))
	require.NoError(t, err)
	require.JSONEq(t, `{"a":1}`, string(b))
	b, err = encodePayload(map[string]int{"b": 2})
	require.NoError(t, err)
	require.JSONEq(t, `{"b":2}`, string(b))
	_, err = encodePayload([]byte(`{`))
	require.ErrorIs(t, err, ErrInvalidPayload)
	_, err = encodePayload(nil)
	require.ErrorIs(t, err, ErrInvalidPayload)
	_, err = encodePayload(selfChecking{})
	require.ErrorIs(t, err, errNotOK)
	require.ErrorIs(t, err, ErrInvalidPayload)
	_, err = encodePayload(selfChecking{OK: true})
	require.NoError(t, err)
}

func TestValidateTyped(t *testing.T) {
	t.Parallel()
	require.ErrorIs(t, validate(&selfChecking{}), errNotOK)
	require.NoError(t, validate(&selfChecking{OK: true}))
	require.ErrorIs(t, validate(&pointerChecking{N: -1}), errNotOK)
	require.NoError(t, validate(&pointerChecking{N: 1}))
	p := &pointerChecking{N: -1}
	require.ErrorIs(t, validate(&p), errNotOK, "T = *pointerChecking")
	var nilP *pointerChecking
	require.NoError(t, validate(&nilP), "a nil pointer is left to the encoder, not a panic")
	n := 5
	require.NoError(t, validate(&n), "types without Validate pass")
}

func TestEnqueueOptionsEncode(t *testing.T) {
	t.Parallel()
	e, err := (*EnqueueOptions)(nil).encode()
	require.NoError(t, err)
	require.Nil(t, e.group)
	require.Nil(t, e.headers)
	e, err = (&EnqueueOptions{Group: "g", Delay: 1500 * time.Millisecond, Headers: map[string]any{"k": "v"}}).encode()
	require.NoError(t, err)
	require.Equal(t, "g", *e.group)
	require.Equal(t, 2, e.delay)
	require.JSONEq(t, `{"k":"v"}`, string(e.headers))
	_, err = (&EnqueueOptions{Delay: -1}).encode()
	require.ErrorIs(t, err, ErrInvalidArgument)
	require.Contains(t, err.Error(), "EnqueueOptions.Delay")
}

func TestSecondsArgRange(t *testing.T) {
	t.Parallel()
	s, err := secondsArg("lease", 1500*time.Millisecond, time.Second)
	require.NoError(t, err)
	require.Equal(t, 2, s)
	_, err = secondsArg("lease", 500*time.Millisecond, time.Second)
	require.ErrorIs(t, err, ErrInvalidArgument)
	require.Contains(t, err.Error(), "lease")
	_, err = secondsArg("EnqueueOptions.Delay", 100*365*24*time.Hour, 0)
	require.ErrorIs(t, err, ErrInvalidArgument, "beyond integer seconds")
	require.Contains(t, err.Error(), "EnqueueOptions.Delay")
}
