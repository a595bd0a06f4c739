package dbcopy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Kind is what a column holds, whatever each engine calls it. The
// PostgreSQL type decides it (SQLite's INTEGER may be a count, a time or a
// boolean); SQLite's declared type must then be the one that kind is
// stored as there.
type Kind int

const (
	KindText  Kind = iota // TEXT ↔ text
	KindUUID              // TEXT (canonical lower-case form) ↔ uuid
	KindInt               // INTEGER ↔ bigint, integer, smallint
	KindBool              // INTEGER 0/1 ↔ boolean
	KindTime              // INTEGER unix milliseconds ↔ timestamptz
	KindBytes             // BLOB ↔ bytea
)

func (k Kind) String() string {
	return [...]string{"text", "uuid", "int", "bool", "time", "bytes"}[k]
}

// postgresKinds maps information_schema's data_type to a kind.
var postgresKinds = map[string]Kind{
	"text":                     KindText,
	"character varying":        KindText,
	"uuid":                     KindUUID,
	"bigint":                   KindInt,
	"integer":                  KindInt,
	"smallint":                 KindInt,
	"boolean":                  KindBool,
	"timestamp with time zone": KindTime,
	"bytea":                    KindBytes,
}

// sqliteTypes is the declared type each kind is stored as in SQLite.
var sqliteTypes = map[Kind]string{
	KindText: "TEXT", KindUUID: "TEXT", KindInt: "INTEGER", KindBool: "INTEGER", KindTime: "INTEGER", KindBytes: "BLOB",
}

// Column is one copied column.
type Column struct {
	Name string
	Kind Kind
}

// Table is one copied table: its stored (not generated) columns, and the
// tables its foreign keys point to.
type Table struct {
	Name       string
	Columns    []Column
	References []string
}

// migrationsTable is the migration tool's own record. It is not copied:
// the target was migrated by this same program, so it has its own.
const migrationsTable = "goose_db_version"

// rawTable is a table as one engine's catalogue describes it.
type rawTable struct {
	columns    []rawColumn // in declaration order
	references []string
}

type rawColumn struct{ name, typ string }

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// readSchema lists the tables of db with their stored columns and foreign
// keys, from the engine's catalogue: the tables of the current schema on
// PostgreSQL, every table of the file on SQLite.
func readSchema(ctx context.Context, q querier, engine Engine) (map[string]rawTable, error) {
	var tables []string
	var err error
	if engine == Postgres {
		tables, err = strings1(ctx, q, `SELECT table_name FROM information_schema.tables
			WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`)
	} else {
		// Ordinary tables only: not a virtual table (the books_search
		// index) nor its shadow tables, nor the queue of books it has yet
		// to take (books_search_pending), which the database itself fills
		// from books through triggers.
		tables, err = strings1(ctx, q, `SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' AND name <> 'books_search_pending'`)
	}
	if err != nil {
		return nil, err
	}
	schema := make(map[string]rawTable)
	for _, t := range tables {
		if t == migrationsTable {
			continue
		}
		var rt rawTable
		var rows *sql.Rows
		if engine == Postgres {
			rows, err = q.QueryContext(ctx, `SELECT column_name, data_type FROM information_schema.columns
				WHERE table_schema = current_schema() AND table_name = $1 AND is_generated = 'NEVER'
				ORDER BY ordinal_position`, t)
		} else {
			// hidden: 0 a stored column, 2 and 3 generated ones.
			rows, err = q.QueryContext(ctx, `SELECT name, type FROM pragma_table_xinfo(?) WHERE hidden = 0 ORDER BY cid`, t)
		}
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var c rawColumn
			if err := rows.Scan(&c.name, &c.typ); err != nil {
				rows.Close()
				return nil, err
			}
			rt.columns = append(rt.columns, c)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return nil, err
		}
		if engine == Postgres {
			rt.references, err = strings1(ctx, q, `SELECT DISTINCT target.relname FROM pg_constraint c
				JOIN pg_class source ON source.oid = c.conrelid
				JOIN pg_class target ON target.oid = c.confrelid
				JOIN pg_namespace n ON n.oid = source.relnamespace
				WHERE c.contype = 'f' AND n.nspname = current_schema() AND source.relname = $1`, t)
		} else {
			rt.references, err = strings1(ctx, q, `SELECT DISTINCT "table" FROM pragma_foreign_key_list(?)`, t)
		}
		if err != nil {
			return nil, err
		}
		schema[t] = rt
	}
	return schema, nil
}

// strings1 returns the first column of every row of a query.
func strings1(ctx context.Context, q querier, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, s)
	}
	return out, errors.Join(rows.Err(), rows.Close())
}

// plan matches the two engines' schemas table by table and column by
// column, and orders the tables so that every table comes after the ones
// its foreign keys reference. Any difference is an error: both databases
// must be migrated by the same program version.
func plan(pg, lite map[string]rawTable) ([]Table, error) {
	var problems []string
	var names []string
	for name := range pg {
		names = append(names, name)
		if _, ok := lite[name]; !ok {
			problems = append(problems, fmt.Sprintf("table %s is only in the PostgreSQL database", name))
		}
	}
	for name := range lite {
		if _, ok := pg[name]; !ok {
			problems = append(problems, fmt.Sprintf("table %s is only in the SQLite database", name))
		}
	}
	slices.Sort(names)
	byName := make(map[string]Table)
	for _, name := range names {
		p, l := pg[name], lite[name]
		liteTypes := make(map[string]string)
		for _, c := range l.columns {
			liteTypes[c.name] = strings.ToUpper(c.typ)
		}
		t := Table{Name: name, References: p.references}
		for _, c := range p.columns {
			kind, ok := postgresKinds[c.typ]
			if !ok {
				problems = append(problems, fmt.Sprintf("%s.%s: PostgreSQL type %q is not one bookstore copy knows", name, c.name, c.typ))
				continue
			}
			lt, ok := liteTypes[c.name]
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("column %s.%s is only in the PostgreSQL database", name, c.name))
				continue
			case lt != sqliteTypes[kind]:
				problems = append(problems, fmt.Sprintf("%s.%s is %s in SQLite; a PostgreSQL %s needs %s", name, c.name, lt, c.typ, sqliteTypes[kind]))
			}
			delete(liteTypes, c.name)
			t.Columns = append(t.Columns, Column{Name: c.name, Kind: kind})
		}
		for c := range liteTypes {
			problems = append(problems, fmt.Sprintf("column %s.%s is only in the SQLite database", name, c))
		}
		byName[name] = t
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return nil, fmt.Errorf("the schemas differ (migrate both with this version: bookstore migrate): %s", strings.Join(problems, "; "))
	}

	// Dependencies first; names break ties, so the order is stable.
	var order []Table
	state := make(map[string]int) // 1 visiting, 2 done
	var visit func(name string, path []string) error
	visit = func(name string, path []string) error {
		switch state[name] {
		case 2:
			return nil
		case 1:
			return fmt.Errorf("foreign keys form a cycle: %s", strings.Join(append(path, name), " → "))
		}
		state[name] = 1
		refs := slices.Sorted(slices.Values(byName[name].References))
		for _, r := range refs {
			if r == name {
				continue // a self-reference is no ordering problem between tables
			}
			if _, ok := byName[r]; !ok {
				return fmt.Errorf("%s references %s, which is not copied", name, r)
			}
			if err := visit(r, append(path, name)); err != nil {
				return err
			}
		}
		state[name] = 2
		order = append(order, byName[name])
		return nil
	}
	for _, name := range names {
		if err := visit(name, nil); err != nil {
			return nil, err
		}
	}
	return order, nil
}
