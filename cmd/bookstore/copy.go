package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/bookstore/bookstore/internal/dbcopy"
	"github.com/bookstore/bookstore/internal/postgres"
	"github.com/bookstore/bookstore/internal/sqlite"
)

const copyUsage = `Usage: bookstore copy --from DATABASE --to DATABASE [flags]

Copy everything from one database to another of the other engine: SQLite to
PostgreSQL, or back. Users with their password hashes, sessions and
refresh-token families, signing keys, idempotency keys, throttle counters,
books: every table of the schema, whatever migrations added.

DATABASE is written as BOOKSTORE_DATABASE_URL is: a SQLite file path or
sqlite:PATH, or a postgres:// URL. Both are migrated to this version first;
a new SQLite file is created. The target must be empty. The copy runs in one
transaction on each side (the source read from one snapshot, the target
written all or nothing) and verifies each table's row count and checksum
before committing. Stop the servers first: a session ended after the copy
began would live on in the target.

For example:

  BOOKSTORE_COPY_TO='postgres://bookstore:PASSWORD@db.example.com/bookstore' \
    bookstore copy --from ./bookstore.db --to env:BOOKSTORE_COPY_TO

A URL with a password shows in the process list as an argument: pass
env:VARIABLE to read it from the environment instead.
`

func runCopy(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	f := newFlagSet("copy", getenv)
	fromFlag := f.fs.String("from", "", "the `DATABASE` to copy from")
	toFlag := f.fs.String("to", "", "the `DATABASE` to copy into: empty, or a SQLite file that does not exist yet")
	batch := f.fs.Int("batch-rows", 500, "rows per INSERT")
	if err := parseFlags(f, args, stdout, copyUsage); err != nil {
		return err
	}
	from, err := copyDatabase(*fromFlag, "--from", getenv)
	if err != nil {
		return err
	}
	to, err := copyDatabase(*toFlag, "--to", getenv)
	if err != nil {
		return err
	}
	if from.Engine == to.Engine {
		return usagef("copy: --from and --to are both %s databases; copy moves between SQLite and PostgreSQL (for a copy of the same engine see bookstore backup, or pg_dump)", from.Engine)
	}
	if *batch < 1 {
		return usagef("--batch-rows: %d is not a positive number", *batch)
	}
	if from.Engine == engineSQLite {
		if _, err := os.Stat(from.Path); err != nil {
			return usagef("--from: no database file at %s", from.Path)
		}
	}
	undo := undoNewSQLite(to) // a failed copy leaves no new file
	err = copyDatabases(ctx, from, to, *batch, stdout)
	undo(err)
	return err
}

// copyDatabase reads --from or --to: a database as BOOKSTORE_DATABASE_URL
// names one, or env:VARIABLE for one named by a variable.
func copyDatabase(v, src string, getenv func(string) string) (Database, error) {
	if v == "" {
		return Database{}, usagef("copy: %s is required", src)
	}
	if name, ok := strings.CutPrefix(v, "env:"); ok {
		if v = getenv(name); v == "" {
			return Database{}, usagef("%s: the variable %s is not set", src, name)
		}
		src += " (" + name + ")"
	}
	return parseDatabase(v, src)
}

func copyDatabases(ctx context.Context, from, to Database, batch int, stdout io.Writer) error {
	src, err := openDatabase(ctx, from)
	if err != nil {
		return fmt.Errorf("copy: the source: %w", err)
	}
	defer src.Close()
	dst, err := openDatabase(ctx, to)
	if err != nil {
		return fmt.Errorf("copy: the target: %w", err)
	}
	defer dst.Close()
	srcDB, closeSrc := copyHandle(src, false)
	defer closeSrc()
	dstDB, closeDst := copyHandle(dst, true)
	defer closeDst()

	fmt.Fprintf(stdout, "Copying %s to %s:\n", from, to)
	start := time.Now()
	results, err := dbcopy.Copy(ctx, srcDB, dstDB, dbcopy.Options{BatchRows: batch, Progress: stdout})
	if err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	var rows int64
	fmt.Fprintln(stdout, "Verified (rows and checksum of each table, source and target alike):")
	for _, r := range results {
		fmt.Fprintf(stdout, "  %-20s %8d rows  sha256-sum %.16s\n", r.Table, r.Rows, r.Checksum)
		rows += r.Rows
	}
	fmt.Fprintf(stdout, "Copied %d rows of %d tables in %v.\n", rows, len(results), time.Since(start).Round(time.Millisecond))
	return nil
}

// copyHandle is the database/sql handle dbcopy works on: a SQLite source
// reads on the read-only pool, a target writes on the writer.
func copyHandle(s store, target bool) (dbcopy.Database, func()) {
	switch db := s.(type) {
	case *sqlite.DB:
		writer, reader := db.Pools()
		if target {
			return dbcopy.Database{Engine: dbcopy.SQLite, DB: writer}, func() {}
		}
		return dbcopy.Database{Engine: dbcopy.SQLite, DB: reader}, func() {}
	case *postgres.DB:
		h := db.SQLDB()
		return dbcopy.Database{Engine: dbcopy.Postgres, DB: h}, func() { h.Close() }
	}
	panic(fmt.Sprintf("bookstore: copy: no handle for %T", s)) // a programming error
}
