package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/bookstore/bookstore/internal/sqlite"
)

const backupUsage = `Usage: bookstore backup [flags] DEST

Write a consistent copy of the SQLite database to the file DEST while the
server keeps running. The copy is one moment's snapshot (every write
committed before the backup began is in it), it passes SQLite's
integrity_check, and it is written under a temporary name next to DEST and
then renamed, so DEST is never a torn file. An existing DEST is replaced.

To restore: stop the server, remove the database's -wal and -shm files,
copy the backup over the database file, start the server. For PostgreSQL
use pg_dump and pg_restore (README, "Backups").
`

func runBackup(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	f := newFlagSet("backup", getenv, "database")
	dest, err := parseWithPath(f, args, stdout, backupUsage, "backup: want DEST, the file to write the backup to")
	if err != nil {
		return err
	}
	database, err := f.database()
	if err != nil {
		return err
	}
	if database.Engine != engineSQLite {
		return usagef("backup copies a SQLite database; for PostgreSQL use pg_dump -Fc and pg_restore (see the README, Backups)")
	}
	// Said here, as settings, rather than as SQLite's "unable to open".
	if _, err := os.Stat(database.Path); err != nil {
		return settingErrorf("database", "no database file at %s; name the server's database", database.Path)
	}
	if fi, err := os.Stat(filepath.Dir(dest)); err != nil || !fi.IsDir() {
		return usagef("backup: the directory of %s does not exist; create it first", dest)
	}
	start := time.Now()
	info, err := sqlite.Backup(ctx, database.Path, dest)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Backed up %s to %s (%d bytes, integrity_check ok, %v):\n",
		database.String(), info.Path, info.Bytes, time.Since(start).Round(time.Millisecond))
	for _, t := range info.Tables {
		fmt.Fprintf(stdout, "  %-20s %d rows\n", t.Table, t.Rows)
	}
	return nil
}
