package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// workerSet is a group of running worker child processes and what they have reported so far.
type workerSet struct {
	cmds    []*exec.Cmd
	mu      sync.Mutex
	handled []int64
	finals  []*childReport
	changed chan struct{} // closed and replaced on every progress line
	done    []chan struct{}
	stderr  []*limitedBuffer
}

// startWorkers starts n worker children with the same options.
func startWorkers(n int, o childOptions) (*workerSet, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own executable: %w", err)
	}
	ws := &workerSet{handled: make([]int64, n), finals: make([]*childReport, n), changed: make(chan struct{})}
	for i := range n {
		cmd := exec.Command(exe, o.args()...)
		out, err := cmd.StdoutPipe()
		if err != nil {
			ws.kill()
			return nil, fmt.Errorf("worker stdout: %w", err)
		}
		errBuf := &limitedBuffer{max: 8192}
		cmd.Stderr = errBuf
		if err := cmd.Start(); err != nil {
			ws.kill()
			return nil, fmt.Errorf("start worker: %w", err)
		}
		done := make(chan struct{})
		ws.cmds = append(ws.cmds, cmd)
		ws.done = append(ws.done, done)
		ws.stderr = append(ws.stderr, errBuf)
		go func() {
			defer close(done)
			sc := bufio.NewScanner(out)
			sc.Buffer(make([]byte, 1<<20), 16<<20)
			for sc.Scan() {
				var r childReport
				if json.Unmarshal(sc.Bytes(), &r) != nil {
					continue
				}
				ws.mu.Lock()
				ws.handled[i] = r.Handled
				if r.Final {
					ws.finals[i] = &r
				}
				close(ws.changed)
				ws.changed = make(chan struct{})
				ws.mu.Unlock()
			}
		}()
	}
	return ws, nil
}

// progress returns the tasks handled by all workers so far and a channel closed at the next report.
func (ws *workerSet) progress() (int64, <-chan struct{}) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	var sum int64
	for _, h := range ws.handled {
		sum += h
	}
	return sum, ws.changed
}

// waitHandled blocks until the workers handled at least target tasks, a worker exits, or ctx ends.
func (ws *workerSet) waitHandled(ctx context.Context, target int64) error {
	for {
		n, ch := ws.progress()
		if n >= target {
			return nil
		}
		for i, d := range ws.done {
			select {
			case <-d:
				return fmt.Errorf("worker %d exited early after %d of %d tasks: %s", i, n, target, ws.stderr[i])
			default:
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d tasks (have %d): %w", target, n, ctx.Err())
		case <-ch:
		case <-time.After(time.Second):
		}
	}
}

// workerResult is what the workers reported at shutdown plus the largest peak RSS among them.
type workerResult struct {
	reports   []childReport
	maxRSSKiB int64
}

// stop sends SIGTERM to every worker, waits for a graceful exit (SIGKILL after timeout) and collects
// the final reports and peak RSS.
func (ws *workerSet) stop(timeout time.Duration) (*workerResult, error) {
	for _, c := range ws.cmds {
		_ = c.Process.Signal(syscall.SIGTERM)
	}
	res := &workerResult{}
	var errs []error
	deadline := time.After(timeout)
	for i, c := range ws.cmds {
		select {
		case <-ws.done[i]:
		case <-deadline:
			_ = c.Process.Kill()
			<-ws.done[i]
			errs = append(errs, fmt.Errorf("worker %d did not stop within %s", i, timeout))
		}
		if err := c.Wait(); err != nil {
			errs = append(errs, fmt.Errorf("worker %d: %w: %s", i, err, ws.stderr[i]))
		}
		if ru, ok := c.ProcessState.SysUsage().(*syscall.Rusage); ok {
			res.maxRSSKiB = max(res.maxRSSKiB, ru.Maxrss) // kilobytes on Linux
		}
		ws.mu.Lock()
		f := ws.finals[i]
		ws.mu.Unlock()
		if f == nil {
			errs = append(errs, fmt.Errorf("worker %d sent no final report: %s", i, ws.stderr[i]))
			continue
		}
		if f.Error != "" {
			errs = append(errs, fmt.Errorf("worker %d: %s", i, f.Error))
		}
		res.reports = append(res.reports, *f)
	}
	return res, errors.Join(errs...)
}

func (ws *workerSet) kill() {
	for _, c := range ws.cmds {
		if c.Process != nil {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	}
}

// limitedBuffer keeps the first max bytes written to it (a child's stderr, for error messages).
type limitedBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - len(b.buf); room > 0 {
		b.buf = append(b.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
