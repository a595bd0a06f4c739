package dbcopy

import (
	"strings"
	"testing"
)

func TestPlanOrdersByForeignKeysAndConvertsByKind(t *testing.T) {
	pg := map[string]rawTable{
		"books":    {columns: []rawColumn{{"id", "uuid"}, {"owner_id", "uuid"}, {"created_at", "timestamp with time zone"}}, references: []string{"users"}},
		"users":    {columns: []rawColumn{{"id", "uuid"}, {"admin", "boolean"}, {"hash", "text"}}},
		"tokens":   {columns: []rawColumn{{"hash", "bytea"}, {"book_id", "uuid"}, {"n", "integer"}}, references: []string{"books", "users"}},
		"archives": {columns: []rawColumn{{"key", "text"}}},
	}
	lite := map[string]rawTable{
		"books":    {columns: []rawColumn{{"id", "TEXT"}, {"owner_id", "TEXT"}, {"created_at", "INTEGER"}}},
		"users":    {columns: []rawColumn{{"id", "TEXT"}, {"admin", "INTEGER"}, {"hash", "TEXT"}}},
		"tokens":   {columns: []rawColumn{{"hash", "BLOB"}, {"book_id", "TEXT"}, {"n", "INTEGER"}}},
		"archives": {columns: []rawColumn{{"key", "TEXT"}}},
	}
	tables, err := plan(pg, lite)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, tb := range tables {
		order = append(order, tb.Name)
	}
	if got, want := strings.Join(order, " "), "archives users books tokens"; got != want {
		t.Errorf("order = %s, want %s", got, want)
	}
	if k := tables[1].Columns[1].Kind; k != KindBool {
		t.Errorf("users.admin is %v, want bool", k)
	}
	if k := tables[2].Columns[2].Kind; k != KindTime {
		t.Errorf("books.created_at is %v, want time", k)
	}
}

func TestPlanRefusesSchemasThatDiffer(t *testing.T) {
	for name, tt := range map[string]struct {
		pg, lite map[string]rawTable
		want     string
	}{
		"a table on one side": {
			pg:   map[string]rawTable{"users": {columns: []rawColumn{{"id", "uuid"}}}, "notes": {columns: []rawColumn{{"x", "text"}}}},
			lite: map[string]rawTable{"users": {columns: []rawColumn{{"id", "TEXT"}}}},
			want: "table notes is only in the PostgreSQL database",
		},
		"a column on one side": {
			pg:   map[string]rawTable{"users": {columns: []rawColumn{{"id", "uuid"}}}},
			lite: map[string]rawTable{"users": {columns: []rawColumn{{"id", "TEXT"}, {"extra", "TEXT"}}}},
			want: "column users.extra is only in the SQLite database",
		},
		"an unknown type": {
			pg:   map[string]rawTable{"users": {columns: []rawColumn{{"tags", "jsonb"}}}},
			lite: map[string]rawTable{"users": {columns: []rawColumn{{"tags", "TEXT"}}}},
			want: `PostgreSQL type "jsonb" is not one bookstore copy knows`,
		},
		"types that do not match": {
			pg:   map[string]rawTable{"users": {columns: []rawColumn{{"created_at", "timestamp with time zone"}}}},
			lite: map[string]rawTable{"users": {columns: []rawColumn{{"created_at", "TEXT"}}}},
			want: "users.created_at is TEXT in SQLite",
		},
		"a foreign key cycle": {
			pg: map[string]rawTable{
				"a": {columns: []rawColumn{{"id", "uuid"}}, references: []string{"b"}},
				"b": {columns: []rawColumn{{"id", "uuid"}}, references: []string{"a"}},
			},
			lite: map[string]rawTable{"a": {columns: []rawColumn{{"id", "TEXT"}}}, "b": {columns: []rawColumn{{"id", "TEXT"}}}},
			want: "cycle",
		},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := plan(tt.pg, tt.lite)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("plan = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestChecksumIsOrderIndependentAndTellsRowsApart checks the per-table
// checksum: the same rows in another order sum alike; a changed value, or
// a value moved to the next column, does not.
func TestChecksumIsOrderIndependentAndTellsRowsApart(t *testing.T) {
	cols := []Column{{"a", KindText}, {"b", KindText}, {"n", KindInt}}
	sum := func(rows ...[]any) string {
		s := newTableSum()
		for _, r := range rows {
			if err := s.add(cols, r); err != nil {
				t.Fatal(err)
			}
		}
		return s.hex()
	}
	r1, r2 := []any{"x", "yz", int64(1)}, []any{"p", nil, int64(2)}
	if sum(r1, r2) != sum(r2, r1) {
		t.Error("the order of rows changes the checksum")
	}
	if sum(r1, r2) == sum([]any{"xy", "z", int64(1)}, r2) {
		t.Error("moving a character between columns keeps the checksum")
	}
	if sum(r1, r2) == sum(r1, []any{"p", "", int64(2)}) {
		t.Error("NULL and the empty string sum alike")
	}
	if err := newTableSum().add(cols, []any{"x", "y", "not a number"}); err == nil {
		t.Error("a string in an int column was summed")
	}
}
