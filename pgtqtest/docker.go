package pgtqtest

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/ory/dockertest/v3"
	"github.com/ory/dockertest/v3/docker"
)

// DockerImage is the image of the Docker fallback.
const DockerImage = "postgres:15"

// startDocker runs DockerImage in a container removed when stop is called (or, at the latest, 10 minutes
// after it started, should the test binary die), and returns its superuser URL. It fails at once when no
// Docker daemon is reachable.
func startDocker(ctx context.Context) (dbURL string, stop func(), err error) {
	pool, err := dockertest.NewPool("")
	if err != nil {
		return "", nil, fmt.Errorf("no Docker client: %w", err)
	}
	if err := pool.Client.Ping(); err != nil {
		return "", nil, fmt.Errorf("no Docker daemon reachable: %w", err)
	}
	pool.MaxWait = 2 * time.Minute
	const password = "pgtqtest"
	res, err := pool.RunWithOptions(&dockertest.RunOptions{
		Repository: "postgres",
		Tag:        "15",
		Env:        []string{"POSTGRES_PASSWORD=" + password},
		Cmd:        []string{"postgres", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "max_connections=400"},
	}, func(hc *docker.HostConfig) {
		hc.AutoRemove = true
		hc.RestartPolicy = docker.RestartPolicy{Name: "no"}
	})
	if err != nil {
		return "", nil, fmt.Errorf("start %s: %w", DockerImage, err)
	}
	_ = res.Expire(600)
	stop = func() { _ = pool.Purge(res) }
	u := (&url.URL{Scheme: "postgres", User: url.UserPassword("postgres", password),
		Host: res.GetHostPort("5432/tcp"), Path: "/postgres", RawQuery: "sslmode=disable"}).String()
	err = pool.Retry(func() error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		conn, err := pgx.Connect(cctx, u)
		if err != nil {
			return err
		}
		return conn.Close(cctx)
	})
	if err != nil {
		stop()
		return "", nil, fmt.Errorf("%s did not accept connections: %w", DockerImage, err)
	}
	return u, stop, nil
}
