package main

import (
	"errors"
	"os"
)

// undoNewSQLite is for commands that may create a SQLite database and then
// fail (copy, import-seed): called with the command's error, it removes
// the file (and its -wal and -shm) if the command created it and failed, so
// a failed run leaves nothing behind. A database that existed is left alone.
func undoNewSQLite(d Database) func(err error) {
	if d.Engine != engineSQLite {
		return func(error) {}
	}
	if _, err := os.Stat(d.Path); !errors.Is(err, os.ErrNotExist) {
		return func(error) {}
	}
	return func(err error) {
		if err == nil {
			return
		}
		for _, suffix := range []string{"", "-wal", "-shm"} {
			os.Remove(d.Path + suffix)
		}
	}
}
