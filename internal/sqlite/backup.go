package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// BackupInfo describes a backup that Backup wrote.
type BackupInfo struct {
	Path   string       // absolute
	Bytes  int64        // size of the file
	Tables []TableCount // rows per table, in name order
}

// TableCount is the number of rows of one table.
type TableCount struct {
	Table string
	Rows  int64
}

// Backup writes a consistent copy of the database file at src to dest,
// while servers may be reading and writing it. VACUUM INTO copies one read
// transaction's snapshot (so every write committed before it began, and
// none half-done), the copy must pass integrity_check, and only then is it
// renamed over dest: dest is either the old file or a whole backup, never a
// torn one. src is opened read-only and never migrated or created.
func Backup(ctx context.Context, src, dest string) (BackupInfo, error) {
	fail := func(err error) (BackupInfo, error) { return BackupInfo{}, fmt.Errorf("sqlite: backup: %w", err) }
	absSrc, err := filepath.Abs(src)
	if err != nil {
		return fail(err)
	}
	absDest, err := filepath.Abs(dest)
	if err != nil {
		return fail(err)
	}
	srcInfo, err := os.Stat(absSrc)
	if err != nil {
		return fail(fmt.Errorf("the database %s: %w", absSrc, err))
	}
	if destInfo, err := os.Stat(absDest); err == nil && os.SameFile(srcInfo, destInfo) {
		return fail(fmt.Errorf("%s is the database itself; write the backup elsewhere", absDest))
	}

	db, err := sql.Open("sqlite", dsn(absSrc, 5*time.Second, true))
	if err != nil {
		return fail(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)

	// A name of its own next to dest, so the rename stays in one file
	// system and never meets another backup's temporary file.
	tmp := filepath.Join(filepath.Dir(absDest), "."+filepath.Base(absDest)+".tmp-"+rand.Text()[:10])
	defer os.Remove(tmp) // gone after the rename; left only on failure
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", tmp); err != nil {
		return fail(err)
	}
	tables, err := checkCopy(ctx, tmp)
	if err != nil {
		return fail(err)
	}
	if err := syncFile(tmp); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, absDest); err != nil {
		return fail(err)
	}
	if err := syncFile(filepath.Dir(absDest)); err != nil { // the rename itself
		return fail(err)
	}
	fi, err := os.Stat(absDest)
	if err != nil {
		return fail(err)
	}
	return BackupInfo{Path: absDest, Bytes: fi.Size(), Tables: tables}, nil
}

// checkCopy runs integrity_check on the database file at path and counts
// the rows of its tables.
func checkCopy(ctx context.Context, path string) ([]TableCount, error) {
	db, err := sql.Open("sqlite", dsn(path, 5*time.Second, true))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var result string
	if err := db.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&result); err != nil {
		return nil, err
	}
	if result != "ok" {
		return nil, fmt.Errorf("the copy fails integrity_check: %s", result)
	}
	// Ordinary tables: the search index's virtual and shadow tables are
	// derived from books.
	rows, err := db.QueryContext(ctx, `SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name`)
	if err != nil {
		return nil, err
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, err
		}
		names = append(names, n)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, err
	}
	counts := make([]TableCount, 0, len(names))
	for _, n := range names {
		c := TableCount{Table: n}
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+quoteIdent(n)).Scan(&c.Rows); err != nil {
			return nil, err
		}
		counts = append(counts, c)
	}
	return counts, nil
}

// syncFile flushes a file, or a directory's entries, to stable storage.
func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}

// quoteIdent quotes a table or column name for SQL.
func quoteIdent(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}
