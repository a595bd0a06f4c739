// Package proctest runs the real bookstore binary as a child process, for
// tests that need a whole process: crashes, signals, replicas.
package proctest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
)

var build struct {
	once sync.Once
	path string
	err  error
	dir  string
}

// Binary builds cmd/bookstore once per test binary and returns its path.
// Call Cleanup from TestMain to remove it.
func Binary(tb testing.TB) string {
	tb.Helper()
	build.once.Do(func() {
		build.dir, build.err = os.MkdirTemp("", "bookstore-bin-")
		if build.err != nil {
			return
		}
		build.path = filepath.Join(build.dir, "bookstore")
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		cmd := exec.Command("go", "build", "-o", build.path, "./cmd/bookstore")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if build.err != nil {
		tb.Fatal(build.err)
	}
	return build.path
}

// Cleanup removes the built binary.
func Cleanup() {
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
}

// Server is one running bookstore process.
type Server struct {
	URL  string
	Addr string
	Cmd  *exec.Cmd
	Log  *Buffer // stderr: the JSON log
	done chan error
}

// FreeAddr returns a loopback address with a port that was free a moment ago.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Start runs `bookstore serve` with env (added to a minimal environment) on
// addr and waits until /healthz answers. The process is killed when the
// test ends if it still runs.
func Start(tb testing.TB, addr string, env ...string) *Server {
	tb.Helper()
	cmd := exec.Command(Binary(tb), "serve")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "BOOKSTORE_ADDR=" + addr}, env...)
	s := &Server{URL: "http://" + addr, Addr: addr, Cmd: cmd, Log: &Buffer{}, done: make(chan error, 1)}
	cmd.Stderr = s.Log
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() { s.done <- cmd.Wait() }()
	tb.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-s.done
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-s.done:
			s.done <- err
			tb.Fatalf("the server exited at start: %v\n%s", err, s.Logs())
		default:
		}
		res, err := http.Get(s.URL + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return s
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.Fatalf("the server did not answer /healthz within 20 s\n%s", s.Logs())
	return nil
}

// Logs returns what the server has logged so far.
func (s *Server) Logs() string { return s.Log.String() }

// Kill sends SIGKILL and waits for the process to be gone.
func (s *Server) Kill(tb testing.TB) {
	tb.Helper()
	s.Cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}

// Stop sends SIGTERM and returns the exit error (nil for status 0).
func (s *Server) Stop(ctx context.Context) error {
	s.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		return err
	case <-ctx.Done():
		s.Cmd.Process.Kill()
		return fmt.Errorf("the server did not stop: %w", ctx.Err())
	}
}

// Buffer is a bytes.Buffer that a server (a child process or goroutines)
// writes its log into while the test reads it.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
