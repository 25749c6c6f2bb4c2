// Package pgcluster starts and stops a throwaway PostgreSQL cluster from the local server binaries, for tests,
// the demo and benchmarks. initdb refuses to run as root, so when the process is root the server runs as the
// postgres OS user. The cluster listens on 127.0.0.1 on a free port, uses trust authentication for the
// superuser postgres, and is deleted by Stop.
package pgcluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// BinDirEnv names the environment variable that overrides where the server binaries are found.
const BinDirEnv = "PGTQ_PG_BINDIR"

// TestSettings are server settings for throwaway test clusters: no durability, room for many connections.
var TestSettings = map[string]string{
	"fsync":              "off",
	"synchronous_commit": "off",
	"full_page_writes":   "off",
	"max_connections":    "400",
	"shared_buffers":     "128MB",
}

// Options configures Start. A nil *Options means defaults.
type Options struct {
	// Settings are passed to the server as -c name=value. Defaults to TestSettings.
	Settings map[string]string
	// BinDir holds initdb, pg_ctl and postgres. Defaults to $PGTQ_PG_BINDIR, else the newest
	// /usr/lib/postgresql/*/bin, else the directory of pg_config --bindir.
	BinDir string
	// Preload is a shared library loaded into every server process through LD_PRELOAD (the benchmark's
	// slow-fsync shim, see BuildPreload). It is copied into the cluster's directory, where the server's OS
	// user can read it; initdb runs without it. Defaults to none.
	Preload string
	// Env holds extra NAME=value variables for the server processes (for example FsyncDelayEnv for the
	// shim). Defaults to none.
	Env []string
}

// FsyncDelayEnv names the variable that sets the slow-fsync shim's delay per fsync/fdatasync, in
// microseconds (the shim's default is 1000).
const FsyncDelayEnv = "PGTQ_FSYNC_DELAY_US"

// Cluster is a running throwaway cluster.
type Cluster struct {
	dir    string
	binDir string
	port   int
	cred   *syscall.Credential
	env    []string // extra environment of pg_ctl start, inherited by the server processes
}

// URL returns a connection URL for database db (postgres when empty) as the superuser postgres.
func (c *Cluster) URL(db string) string {
	if db == "" {
		db = "postgres"
	}
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, db)
}

// Port returns the TCP port the cluster listens on.
func (c *Cluster) Port() int { return c.port }

// Dir returns the cluster's directory (data directory and log).
func (c *Cluster) Dir() string { return c.dir }

// Start creates and starts a cluster. The caller must call Stop.
func Start(ctx context.Context, opts *Options) (*Cluster, error) {
	o := Options{}
	if opts != nil {
		o = *opts
	}
	if o.Settings == nil {
		o.Settings = TestSettings
	}
	binDir, err := findBinDir(o.BinDir)
	if err != nil {
		return nil, err
	}
	cred, err := serverCredential()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pgtq-cluster-")
	if err != nil {
		return nil, fmt.Errorf("pgcluster: temp dir: %w", err)
	}
	c := &Cluster{dir: dir, binDir: binDir, cred: cred}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("pgcluster: chown %s: %w", dir, err)
		}
	}
	if o.Preload != "" {
		lib, err := copyPreload(o.Preload, dir)
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		c.env = append(c.env, "LD_PRELOAD="+lib)
	}
	c.env = append(c.env, o.Env...)
	data := filepath.Join(dir, "data")
	if out, err := c.run(ctx, "initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
		"--locale=C", "--no-sync"); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pgcluster: initdb: %w\n%s", err, out)
	}
	// A port that was free a moment ago can be taken by the time the server binds: try a few.
	var lastErr error
	for range 5 {
		port, err := freePort()
		if err != nil {
			lastErr = err
			continue
		}
		c.port = port
		args := []string{"-D", data, "-l", filepath.Join(dir, "server.log"), "-w", "-t", "60", "-o", c.serverOptions(o.Settings), "start"}
		out, err := c.runEnv(ctx, c.env, "pg_ctl", args...)
		if err == nil {
			return c, nil
		}
		lastErr = fmt.Errorf("pg_ctl start: %w\n%s\n%s", err, out, c.logTail())
	}
	os.RemoveAll(dir)
	return nil, fmt.Errorf("pgcluster: %w", lastErr)
}

// Stop stops the server immediately and deletes the cluster's files.
func (c *Cluster) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := c.run(ctx, "pg_ctl", "-D", filepath.Join(c.dir, "data"), "-m", "immediate", "-w", "stop")
	rmErr := os.RemoveAll(c.dir)
	if err != nil {
		return fmt.Errorf("pgcluster: pg_ctl stop: %w\n%s", err, out)
	}
	if rmErr != nil {
		return fmt.Errorf("pgcluster: remove %s: %w", c.dir, rmErr)
	}
	return nil
}

func (c *Cluster) serverOptions(settings map[string]string) string {
	names := make([]string, 0, len(settings))
	for k := range settings {
		names = append(names, k)
	}
	sort.Strings(names)
	parts := []string{
		"-p " + strconv.Itoa(c.port),
		"-c listen_addresses=127.0.0.1",
		"-c unix_socket_directories=" + c.dir,
	}
	for _, k := range names {
		parts = append(parts, fmt.Sprintf("-c %s=%s", k, settings[k]))
	}
	return strings.Join(parts, " ")
}

func (c *Cluster) logTail() string {
	b, err := os.ReadFile(filepath.Join(c.dir, "server.log"))
	if err != nil {
		return ""
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// run executes a server binary as the server's OS user.
func (c *Cluster) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	return c.runEnv(ctx, nil, name, args...)
}

// runEnv is run with extra environment variables.
func (c *Cluster) runEnv(ctx context.Context, env []string, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(c.binDir, name), args...)
	cmd.Dir = c.dir
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	// pg_ctl start leaves the server running with our pipes unless output goes to a file (-l); keep the
	// command's own output in a buffer and do not wait for inherited descriptors.
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if errors.Is(err, exec.ErrWaitDelay) {
		err = nil
	}
	return out.Bytes(), err
}

// serverCredential returns the postgres OS user's credential when running as root (initdb refuses root), and
// nil otherwise (the server then runs as the current user).
func serverCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pgcluster: running as root needs the postgres OS user (installed with the postgresql package): %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func findBinDir(explicit string) (string, error) {
	candidates := []string{explicit, os.Getenv(BinDirEnv)}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(matches, func(i, j int) bool { return versionOf(matches[i]) > versionOf(matches[j]) })
	candidates = append(candidates, matches...)
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		candidates = append(candidates, strings.TrimSpace(string(out)))
	}
	for _, d := range candidates {
		if d == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("pgcluster: no PostgreSQL server binaries (initdb) found; install postgresql-15 " +
		"(make test does it when run as root) or set " + BinDirEnv)
}

func versionOf(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// copyPreload copies the shared library lib into the cluster directory dir, readable by every user (the
// server may run as another OS user than the one that built it), and returns the copy's path.
func copyPreload(lib, dir string) (string, error) {
	data, err := os.ReadFile(lib)
	if err != nil {
		return "", fmt.Errorf("pgcluster: preload library: %w", err)
	}
	dst := filepath.Join(dir, filepath.Base(lib))
	if err := os.WriteFile(dst, data, 0o755); err != nil {
		return "", fmt.Errorf("pgcluster: copy preload library: %w", err)
	}
	return dst, nil
}

// BuildPreload compiles the C source file src into a shared library for Options.Preload with gcc and
// returns its path. The library is cached under the user cache directory by the source's hash, so a
// second call with the same source does not compile again.
func BuildPreload(ctx context.Context, src string) (string, error) {
	code, err := os.ReadFile(src)
	if err != nil {
		return "", fmt.Errorf("pgcluster: preload source: %w", err)
	}
	sum := sha256.Sum256(code)
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "pgtq", "preload")
	base := strings.TrimSuffix(filepath.Base(src), filepath.Ext(src))
	lib := filepath.Join(dir, base+"-"+hex.EncodeToString(sum[:6])+".so")
	if _, err := os.Stat(lib); err == nil {
		return lib, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("pgcluster: preload cache: %w", err)
	}
	tmp := lib + ".tmp" + strconv.Itoa(os.Getpid())
	out, err := exec.CommandContext(ctx, "gcc", "-shared", "-fPIC", "-O2", "-Wall", "-o", tmp, src, "-ldl").CombinedOutput()
	if err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("pgcluster: gcc %s (install gcc): %w\n%s", src, err, out)
	}
	if err := os.Rename(tmp, lib); err != nil {
		return "", fmt.Errorf("pgcluster: preload cache: %w", err)
	}
	return lib, nil
}
