package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"
)

// settingError is a problem found at start that the operator fixes in one
// setting: a missing database directory, an address that cannot be bound.
// run prints it as one plain line naming the flag and its variable and
// exits 2, as for a bad value on the command line.
type settingError struct {
	flag string // without the dashes, e.g. "addr"
	msg  string // what is wrong and what to do
}

func (e *settingError) Error() string {
	env := ""
	for _, s := range settings() {
		if s.flag == e.flag {
			env = s.env
		}
	}
	return fmt.Sprintf("--%s (%s): %s", e.flag, env, e.msg)
}

func settingErrorf(flag, format string, args ...any) error {
	return &settingError{flag: flag, msg: fmt.Sprintf(format, args...)}
}

// listenError says why addr cannot be bound, and what to do, in the terms
// of the setting (addr, debug-addr) that gave it.
func listenError(setting, addr string, err error) error {
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return settingErrorf(setting, "%s is already in use by another process; stop it or choose another port", addr)
	case errors.Is(err, syscall.EACCES):
		return settingErrorf(setting, "no permission to listen on %s (ports below 1024 need privileges); choose a port from 1024 up", addr)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return settingErrorf(setting, "%s is not an address of this machine; use 127.0.0.1, 0.0.0.0 (every interface) or one of its own addresses", addr)
	case errors.As(err, &dnsErr):
		return settingErrorf(setting, "the host of %s is not known (%s); use an IP address such as 127.0.0.1 or 0.0.0.0", addr, dnsErr.Err)
	default:
		return settingErrorf(setting, "cannot listen on %s: %v; choose another address", addr, errors.Unwrap(err))
	}
}

// checkDatabaseLocation refuses, without creating anything, a SQLite
// database whose directory is missing or not a directory. PostgreSQL's URL
// is checked by connecting, which may succeed later.
func checkDatabaseLocation(d Database) error {
	if d.Engine != engineSQLite {
		return nil
	}
	abs, err := filepath.Abs(d.Path)
	if err != nil {
		return settingErrorf("database", "%v", err)
	}
	dir := filepath.Dir(abs)
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return settingErrorf("database", "the directory %s does not exist; create it (mkdir -p %s) or choose another path", dir, dir)
	case errors.Is(err, os.ErrPermission):
		return settingErrorf("database", "no permission to reach the directory %s; fix its permissions or choose another path", dir)
	case err != nil:
		return settingErrorf("database", "cannot use the directory %s: %v", dir, err)
	case !fi.IsDir():
		return settingErrorf("database", "%s is not a directory; choose a path in a directory", dir)
	}
	if fi, err := os.Stat(abs); err == nil && fi.IsDir() {
		return settingErrorf("database", "%s is a directory; give the path of the database file inside it, e.g. %s", abs, filepath.Join(abs, "bookstore.db"))
	}
	return nil
}
