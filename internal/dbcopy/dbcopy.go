// Package dbcopy copies every row of a bookstore database from one engine
// to the other (SQLite to PostgreSQL, or back), for `bookstore copy`.
//
// Nothing here knows the tables: they, their columns and their foreign keys
// come from the two databases' catalogues, and each column is converted by
// its kind (a PostgreSQL uuid is canonical text in SQLite, a timestamptz
// unix milliseconds, a boolean 0 or 1). A table or column that a later
// migration adds is copied without a change here; a type this package does
// not know stops the copy before it begins.
package dbcopy

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Engine is a database engine.
type Engine int

const (
	SQLite Engine = iota
	Postgres
)

func (e Engine) String() string {
	if e == Postgres {
		return "PostgreSQL"
	}
	return "SQLite"
}

// Database is one side of a copy. For a SQLite source a read-only pool is
// enough; a SQLite target needs its writing connection.
type Database struct {
	Engine Engine
	DB     *sql.DB
}

// Options tune a copy.
type Options struct {
	// BatchRows is the most rows one INSERT carries (default 500; fewer
	// for wide tables, within the engines' limits on parameters).
	BatchRows int
	// Progress receives a line per table and about every 10,000 rows;
	// nil discards them.
	Progress io.Writer
}

// TableResult is what was copied into one table and verified.
type TableResult struct {
	Table    string
	Rows     int64
	Checksum string // hex; the same on both sides, or the copy failed
}

// ErrNotEmpty is returned when the target already holds rows.
var ErrNotEmpty = errors.New("the target database is not empty")

// Copy copies every table of from into to, in one transaction on each
// side: the source is read from one snapshot, and the target gets every row
// or none. Before committing it reads the target back and compares each
// table's row count and checksum with the source's. Both databases must be
// migrated to the same version; the target must be empty.
func Copy(ctx context.Context, from, to Database, opts Options) ([]TableResult, error) {
	if from.Engine == to.Engine {
		return nil, fmt.Errorf("dbcopy: both databases are %v; copy moves between SQLite and PostgreSQL", from.Engine)
	}
	if opts.BatchRows <= 0 {
		opts.BatchRows = 500
	}
	progress := opts.Progress
	if progress == nil {
		progress = io.Discard
	}
	fromSchema, err := readSchema(ctx, from.DB, from.Engine)
	if err != nil {
		return nil, fmt.Errorf("dbcopy: read the source's schema: %w", err)
	}
	toSchema, err := readSchema(ctx, to.DB, to.Engine)
	if err != nil {
		return nil, fmt.Errorf("dbcopy: read the target's schema: %w", err)
	}
	pgSchema, liteSchema := fromSchema, toSchema
	if from.Engine == SQLite {
		pgSchema, liteSchema = toSchema, fromSchema
	}
	tables, err := plan(pgSchema, liteSchema)
	if err != nil {
		return nil, fmt.Errorf("dbcopy: %w", err)
	}

	src, err := beginSnapshot(ctx, from)
	if err != nil {
		return nil, fmt.Errorf("dbcopy: read the source: %w", err)
	}
	defer src.Rollback()
	dst, err := to.DB.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("dbcopy: write the target: %w", err)
	}
	defer dst.Rollback() // a no-op after Commit
	if to.Engine == Postgres {
		// The pool's statement timeout is for requests, not for this.
		if _, err := dst.ExecContext(ctx, "SET LOCAL statement_timeout = 0"); err != nil {
			return nil, fmt.Errorf("dbcopy: %w", err)
		}
	}
	for _, t := range tables {
		var hasRows bool
		if err := dst.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM "+quote(t.Name)+")").Scan(&hasRows); err != nil {
			return nil, fmt.Errorf("dbcopy: %w", err)
		}
		if hasRows {
			return nil, fmt.Errorf("dbcopy: %w: table %s has rows; copy into a new, migrated database", ErrNotEmpty, t.Name)
		}
	}

	results := make([]TableResult, 0, len(tables))
	for _, t := range tables {
		r, err := copyTable(ctx, src, from.Engine, dst, to.Engine, t, opts.BatchRows, progress)
		if err != nil {
			return nil, fmt.Errorf("dbcopy: %s: %w", t.Name, err)
		}
		results = append(results, r)
	}
	for i, t := range tables {
		rows, sum, err := checksum(ctx, dst, to.Engine, t)
		if err != nil {
			return nil, fmt.Errorf("dbcopy: verify %s: %w", t.Name, err)
		}
		if rows != results[i].Rows || sum != results[i].Checksum {
			return nil, fmt.Errorf("dbcopy: verify %s: the target has %d rows (checksum %.16s…), the source %d (%.16s…); nothing was committed",
				t.Name, rows, sum, results[i].Rows, results[i].Checksum)
		}
	}
	if err := dst.Commit(); err != nil {
		return nil, fmt.Errorf("dbcopy: commit: %w", err)
	}
	return results, nil
}

// beginSnapshot starts a read-only transaction that sees one moment of db.
func beginSnapshot(ctx context.Context, db Database) (*sql.Tx, error) {
	if db.Engine == SQLite {
		// A deferred transaction on the read-only pool: its first read
		// fixes the snapshot, and writers carry on meanwhile (WAL).
		return db.DB.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	}
	tx, err := db.DB.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, "SET LOCAL statement_timeout = 0"); err != nil {
		tx.Rollback()
		return nil, err
	}
	return tx, nil
}

// progressEvery is how many rows pass between progress lines.
const progressEvery = 10000

// copyTable streams table t from src into dst in batches and returns the
// source's row count and checksum.
func copyTable(ctx context.Context, src *sql.Tx, srcEngine Engine, dst *sql.Tx, dstEngine Engine, t Table, batchRows int, progress io.Writer) (TableResult, error) {
	var total int64
	if err := src.QueryRowContext(ctx, "SELECT count(*) FROM "+quote(t.Name)).Scan(&total); err != nil {
		return TableResult{}, err
	}
	fmt.Fprintf(progress, "  copying %-20s %d rows\n", t.Name, total)
	// Both engines cap the parameters of one statement (SQLite 32766,
	// PostgreSQL 65535).
	batchRows = max(1, min(batchRows, 30000/len(t.Columns)))
	rows, err := src.QueryContext(ctx, selectRows(srcEngine, t))
	if err != nil {
		return TableResult{}, err
	}
	defer rows.Close()
	sum := newTableSum()
	batch := make([]any, 0, batchRows*len(t.Columns))
	var copied int64
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		n := len(batch) / len(t.Columns)
		if _, err := dst.ExecContext(ctx, insertRows(dstEngine, t, n), batch...); err != nil {
			return err
		}
		before := copied
		copied += int64(n)
		if copied/progressEvery != before/progressEvery {
			fmt.Fprintf(progress, "  %-20s %d/%d\n", t.Name, copied, total)
		}
		batch = batch[:0]
		return nil
	}
	for rows.Next() {
		row := make([]any, len(t.Columns))
		ptrs := make([]any, len(row))
		for i := range row {
			ptrs[i] = &row[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return TableResult{}, err
		}
		if err := sum.add(t.Columns, row); err != nil {
			return TableResult{}, err
		}
		batch = append(batch, row...)
		if len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return TableResult{}, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return TableResult{}, err
	}
	if err := flush(); err != nil {
		return TableResult{}, err
	}
	return TableResult{Table: t.Name, Rows: sum.rows, Checksum: sum.hex()}, nil
}

// checksum reads every row of t and returns the count and checksum.
func checksum(ctx context.Context, q querier, engine Engine, t Table) (int64, string, error) {
	rows, err := q.QueryContext(ctx, selectRows(engine, t))
	if err != nil {
		return 0, "", err
	}
	defer rows.Close()
	sum := newTableSum()
	row := make([]any, len(t.Columns))
	ptrs := make([]any, len(row))
	for i := range row {
		ptrs[i] = &row[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return 0, "", err
		}
		if err := sum.add(t.Columns, row); err != nil {
			return 0, "", err
		}
	}
	return sum.rows, sum.hex(), rows.Err()
}

// selectRows reads t's columns in the common representation: uuid as
// text, time as unix milliseconds, booleans as 0/1 integers.
func selectRows(engine Engine, t Table) string {
	cols := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		q := quote(c.Name)
		if engine == Postgres {
			switch c.Kind {
			case KindUUID:
				q += "::text"
			case KindTime:
				// The stores write milliseconds (SQLite keeps no more).
				q = "floor(extract(epoch FROM " + q + ") * 1000)::bigint"
			case KindBool:
				q += "::integer"
			case KindInt:
				q += "::bigint"
			}
		}
		cols[i] = q
	}
	return "SELECT " + strings.Join(cols, ", ") + " FROM " + quote(t.Name)
}

// insertRows is an INSERT of n rows of t from the common representation.
func insertRows(engine Engine, t Table, n int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO " + quote(t.Name) + " (")
	for i, c := range t.Columns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quote(c.Name))
	}
	b.WriteString(") VALUES ")
	param := 0
	for r := range n {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(")
		for i, c := range t.Columns {
			if i > 0 {
				b.WriteString(", ")
			}
			param++
			if engine == SQLite {
				b.WriteString("?")
				continue
			}
			p := fmt.Sprintf("$%d", param)
			switch c.Kind {
			case KindText:
				b.WriteString(p + "::text")
			case KindUUID:
				b.WriteString(p + "::uuid")
			case KindInt:
				b.WriteString(p + "::bigint")
			case KindBool:
				b.WriteString("(" + p + "::bigint <> 0)")
			case KindTime:
				b.WriteString("('epoch'::timestamptz + " + p + "::bigint * interval '1 millisecond')")
			case KindBytes:
				b.WriteString(p + "::bytea")
			}
		}
		b.WriteString(")")
	}
	return b.String()
}

// quote quotes an identifier for either engine.
func quote(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// tableSum is an order-independent checksum of a table: the sum, in four
// 64-bit lanes, of the SHA-256 of each row's canonical encoding. The two
// engines return rows in different orders (collations differ), and rows
// are distinct (every table has a primary key), so a sum is enough.
type tableSum struct {
	rows  int64
	lanes [4]uint64
	buf   []byte
}

func newTableSum() *tableSum { return &tableSum{} }

func (s *tableSum) add(cols []Column, row []any) error {
	b := s.buf[:0]
	for i, c := range cols {
		var err error
		if b, err = appendCanonical(b, c, row[i]); err != nil {
			return err
		}
	}
	s.buf = b
	h := sha256.Sum256(b)
	for i := range s.lanes {
		s.lanes[i] += binary.BigEndian.Uint64(h[8*i:])
	}
	s.rows++
	return nil
}

func (s *tableSum) hex() string {
	var b [32]byte
	for i, l := range s.lanes {
		binary.BigEndian.PutUint64(b[8*i:], l)
	}
	return hex.EncodeToString(b[:])
}

// appendCanonical encodes one value, tagged and length-prefixed so that no
// two rows share an encoding.
func appendCanonical(b []byte, c Column, v any) ([]byte, error) {
	if v == nil {
		return append(b, 0), nil
	}
	switch c.Kind {
	case KindInt, KindBool, KindTime:
		var n int64
		switch x := v.(type) {
		case int64:
			n = x
		case int32:
			n = int64(x)
		case int:
			n = int64(x)
		case bool:
			if x {
				n = 1
			}
		default:
			return nil, fmt.Errorf("column %s: a %s column returned %T", c.Name, c.Kind, v)
		}
		b = append(b, 1)
		return binary.BigEndian.AppendUint64(b, uint64(n)), nil
	case KindText, KindUUID, KindBytes:
		var s []byte
		switch x := v.(type) {
		case string:
			s = []byte(x)
		case []byte:
			s = x
		default:
			return nil, fmt.Errorf("column %s: a %s column returned %T", c.Name, c.Kind, v)
		}
		b = append(b, 2)
		b = binary.BigEndian.AppendUint64(b, uint64(len(s)))
		return append(b, s...), nil
	}
	return nil, fmt.Errorf("column %s: unknown kind %v", c.Name, c.Kind)
}
