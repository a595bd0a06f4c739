package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// server is a child process under test: the bookstore or the baseline.
type server struct {
	name    string
	cmd     *exec.Cmd
	pid     int
	addr    string // 127.0.0.1:PORT
	logPath string
	// debugAddr is the profiler's listener (BOOKSTORE_DEBUG_ADDR), if
	// opened.
	debugAddr string
	exited    chan struct{}
	waitErr   error
}

func (s *server) url() string { return "http://" + s.addr }

// freeLoopbackAddr asks the kernel for a free port on 127.0.0.1. The port is
// released before the server binds it; on a quiet machine nothing else
// takes it in between.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// childEnv is the environment of a child: ours without any BOOKSTORE_*
// variable (a developer's settings must not leak into the measurement),
// plus extra.
func childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BOOKSTORE_") && !strings.HasPrefix(kv, "BASELINE_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// startServer runs bin with args and env, its stdout and stderr appended to
// logPath, and waits until GET /readyz answers on addr. If the process
// exits first, the error quotes the end of its log.
func startServer(ctx context.Context, name, bin string, args, env []string, addr, logPath string) (*server, error) {
	if err := checkLoopback(addr); err != nil {
		return nil, err
	}
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child holds its own descriptor
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.Dir = filepath.Dir(logPath)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	s := &server{name: name, cmd: cmd, pid: cmd.Process.Pid, addr: addr, logPath: logPath, exited: make(chan struct{})}
	go func() {
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()

	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	deadline := time.Now().Add(30 * time.Second)
	for attempt := 0; time.Now().Before(deadline); attempt++ {
		select {
		case <-s.exited:
			return nil, fmt.Errorf("%s exited during start-up (%v); the end of its log:\n%s", name, s.waitErr, tail(logPath, 8))
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(time.Duration(min(attempt, 10)) * 20 * time.Millisecond):
		}
		// /readyz, not /healthz: on PostgreSQL the bookstore listens (and is
		// live) before its database is migrated, and answers 503 until then.
		// The baseline has no /readyz (404): live is ready there.
		resp, err := client.Get(s.url() + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 300 || resp.StatusCode == http.StatusNotFound {
				return s, nil
			}
		}
	}
	s.stop()
	return nil, fmt.Errorf("%s was not ready (/readyz) on %s within 30 s; the end of its log:\n%s", name, addr, tail(logPath, 8))
}

// stop sends SIGTERM and waits for a graceful exit, killing the process
// after 25 s.
func (s *server) stop() error {
	select {
	case <-s.exited:
		return nil
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		var exitErr *exec.ExitError
		if errors.As(s.waitErr, &exitErr) {
			return fmt.Errorf("%s exited with %v", s.name, s.waitErr)
		}
		return nil
	case <-time.After(25 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
		return fmt.Errorf("%s did not stop within 25 s of SIGTERM; killed", s.name)
	}
}

// alive reports whether the process still runs.
func (s *server) alive() bool {
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("refusing to drive load at %q: not a loopback address", addr)
	}
	return nil
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat. It
// is 100 on every Linux architecture Go supports (sysconf(_SC_CLK_TCK)
// would need cgo).
const clockTicks = 100

// cpuTime is the user+system CPU time a process has used so far.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: count from the ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc/PID/stat")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state): utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, errors.New("malformed /proc/PID/stat")
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// machineBusy is the CPU time every process on the machine has used so
// far (user, nice, system, irq, softirq and steal of /proc/stat's cpu line).
func machineBusy() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, errors.New("malformed /proc/stat")
	}
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} { // user nice system irq softirq steal
		n, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return 0, err
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// waitQuiet waits until the machine's other processes use less than
// threshold cores over a second, for at most maxWait, and returns the last
// level seen. The benchmark shares the machine; this keeps a compile
// running next to it out of the figures when it can.
func waitQuiet(maxWait time.Duration, threshold float64, pids ...int) float64 {
	deadline := time.Now().Add(maxWait)
	for {
		b0, err := machineBusy()
		if err != nil {
			return -1
		}
		var own0 time.Duration
		for _, pid := range pids {
			c, _ := cpuTime(pid)
			own0 += c
		}
		self0 := selfCPU()
		time.Sleep(time.Second)
		b1, _ := machineBusy()
		var own1 time.Duration
		for _, pid := range pids {
			c, _ := cpuTime(pid)
			own1 += c
		}
		other := ((b1 - b0) - (own1 - own0) - (selfCPU() - self0)).Seconds()
		if other < threshold || time.Now().After(deadline) {
			return max(other, 0)
		}
	}
}

// selfCPU is this process's user+system CPU time, from getrusage (µs
// resolution).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// memStatus returns VmRSS and VmHWM (peak RSS) of a process, in bytes.
func memStatus(pid int) (rss, hwm int64, err error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		var dst *int64
		switch {
		case strings.HasPrefix(line, "VmRSS:"):
			dst = &rss
		case strings.HasPrefix(line, "VmHWM:"):
			dst = &hwm
		default:
			continue
		}
		fields := strings.Fields(line) // "VmRSS:", "12345", "kB"
		if len(fields) >= 2 {
			kb, _ := strconv.ParseInt(fields[1], 10, 64)
			*dst = kb << 10
		}
	}
	return rss, hwm, sc.Err()
}

// resetPeakRSS sets VmHWM back to the current RSS (Linux ≥ 4.0: writing 5 to
// /proc/PID/clear_refs), so each scenario's peak is its own. It reports
// whether that worked.
func resetPeakRSS(pid int) bool {
	return os.WriteFile("/proc/"+strconv.Itoa(pid)+"/clear_refs", []byte("5"), 0) == nil
}

// machine describes where the benchmark ran.
type machine struct {
	CPU     string
	Cores   int
	Kernel  string
	Go      string
	Date    time.Time
	Commit  string
	MemInfo string
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func kernelRelease() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

func memTotal() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
			}
		}
	}
	return ""
}

// gitCommit is the short commit of the module root, with "+dirty" when the
// tree has changes; "" when git is unavailable.
func gitCommit(root string) string {
	out, err := exec.Command("git", "-C", root, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return ""
	}
	commit := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(bytes.TrimSpace(st)) > 0 {
		commit += "+dirty"
	}
	return commit
}

// profileWindow, with -profile, asks the server's profiler for a CPU
// profile of the measured window that is about to start (after the
// warm-up, for the measured duration less a second of slack) and writes it
// to the profile directory as NAME.pprof. The returned function waits for
// it. Without -profile it does nothing.
func profileWindow(ctx context.Context, cfg config, srv *server, name string) (wait func() error) {
	if cfg.profileDir == "" || srv.debugAddr == "" {
		return func() error { return nil }
	}
	done := make(chan error, 1)
	go func() {
		done <- func() error {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(cfg.warmup + 500*time.Millisecond):
			}
			secs := max(1, int((cfg.duration - time.Second).Seconds()))
			u := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", srv.debugAddr, secs)
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
			if err != nil {
				return err
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s: %s", u, resp.Status)
			}
			if err := os.MkdirAll(cfg.profileDir, 0o755); err != nil {
				return err
			}
			path := filepath.Join(cfg.profileDir, strings.ReplaceAll(name, " ", "_")+".pprof")
			f, err := os.Create(path)
			if err != nil {
				return err
			}
			if _, err := io.Copy(f, resp.Body); err != nil {
				f.Close()
				return err
			}
			logf("    profile: %s", path)
			return f.Close()
		}()
	}()
	return func() error { return <-done }
}
