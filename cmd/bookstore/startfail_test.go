package main

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bookstore/bookstore/internal/postgres/pgtest"
	"github.com/bookstore/bookstore/internal/proctest"
)

// runBinary runs the real bookstore binary in dir with env (added to a
// minimal environment) and returns its exit status and output. It is for
// commands that end by themselves.
func runBinary(t *testing.T, dir string, env []string, args ...string) (status int, stdout, stderr string) {
	t.Helper()
	return runBinaryWithStdin(t, dir, "", env, args...)
}

// runBinaryWithStdin is runBinary with stdin.
func runBinaryWithStdin(t *testing.T, dir, stdin string, env []string, args ...string) (status int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(proctest.Binary(t), args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		status = exit.ExitCode()
	default:
		t.Fatal(err)
	}
	return status, out.String(), errOut.String()
}

// TestStartFailsClearly starts the real binary with each kind of problem an
// operator can make at start. Each must exit 2 with one plain line naming
// the setting both ways (flag and variable) and what to do, and must leave
// the working directory as it was: no database, no WAL, no key.
func TestStartFailsClearly(t *testing.T) {
	if engine == pgtest.Postgres {
		t.Skip("SQLite only; it ran in the SQLite pass")
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, nil, 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		env  []string
		args []string // after serve
		want []string // in the line, besides the setting's names
		flag string   // the setting to name
	}{
		{"missing database directory", []string{"BOOKSTORE_DATABASE_URL=./missing/bookstore.db"}, nil, []string{"does not exist", "mkdir -p"}, "database"},
		{"database directory is a file", []string{"BOOKSTORE_DATABASE_URL=" + filepath.Join(notADir, "bookstore.db")}, nil, []string{"not a directory"}, "database"},
		{"database path is a directory", []string{"BOOKSTORE_DATABASE_URL=."}, nil, []string{"is a directory"}, "database"},
		{"port out of range", []string{"BOOKSTORE_ADDR=127.0.0.1:99999"}, nil, []string{"0 to 65535"}, "addr"},
		{"port in use", []string{"BOOKSTORE_ADDR=" + busy.Addr().String()}, nil, []string{"already in use", "another port"}, "addr"},
		{"address of another machine", []string{"BOOKSTORE_ADDR=192.0.2.1:8080"}, nil, []string{"not an address of this machine"}, "addr"},
		{"bad setting", []string{"BOOKSTORE_ACCESS_TTL=forever"}, nil, []string{"not a duration"}, "access-ttl"},
		{"bad setting as a flag", nil, []string{"--log-level", "loud"}, []string{"not one of debug"}, "log-level"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			env := append([]string{"BOOKSTORE_ADDR=" + proctest.FreeAddr(t)}, tt.env...)
			status, stdout, stderr := runBinary(t, dir, env, append([]string{"serve"}, tt.args...)...)
			if status != 2 {
				t.Errorf("exit status %d, want 2\nstderr:\n%s", status, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			line, _, _ := strings.Cut(stderr, "\n")
			if strings.HasPrefix(line, "{") {
				t.Errorf("the first line is a JSON log line, want a plain one:\n%s", stderr)
			}
			var envName string
			for _, s := range settings() {
				if s.flag == tt.flag {
					envName = s.env
				}
			}
			for _, w := range append([]string{"--" + tt.flag, envName}, tt.want...) {
				if !strings.Contains(line, w) {
					t.Errorf("the first line of stderr does not contain %q:\n%s", w, stderr)
				}
			}
			if stderr != line+"\n" {
				t.Errorf("stderr is more than one line:\n%s", stderr)
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				t.Errorf("the failed start left %s behind", e.Name())
			}
		})
	}
}

func TestDocsURL(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:8080": "http://127.0.0.1:8080/docs/",
		"0.0.0.0:8080":   "http://localhost:8080/docs/",
		"[::]:8080":      "http://localhost:8080/docs/",
		"[::1]:9000":     "http://[::1]:9000/docs/",
	} {
		if got := docsURL(addr); got != want {
			t.Errorf("docsURL(%q) = %q, want %q", addr, got, want)
		}
	}
}
