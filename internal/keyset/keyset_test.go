package keyset_test

import (
	"reflect"
	"testing"

	"github.com/bookstore/bookstore/internal/keyset"
)

func TestQuery(t *testing.T) {
	tests := []struct {
		name     string
		build    func(q *keyset.Query) (from string, o keyset.Order)
		p        keyset.Placeholder
		wantSQL  string
		wantArgs []any
	}{
		{
			name:     "first page, no conditions",
			p:        keyset.Question,
			build:    func(*keyset.Query) (string, keyset.Order) { return "books", keyset.Order{Column: "title"} },
			wantSQL:  "SELECT id, title FROM books ORDER BY title ASC, id ASC LIMIT ?",
			wantArgs: []any{20},
		},
		{
			name: "descending, after a row, numbered placeholders in binding order",
			p:    keyset.Dollar,
			build: func(q *keyset.Query) (string, keyset.Order) {
				o := keyset.Order{Column: "price_cents", Desc: true}
				q.Where("owner_id = ", q.Param("owner"))
				q.After(o, q.Param(int64(999)), "last-id")
				return "books", o
			},
			wantSQL:  "SELECT id, title FROM books WHERE owner_id = $1 AND (price_cents, id) < ($2, $3) ORDER BY price_cents DESC, id DESC LIMIT $4",
			wantArgs: []any{"owner", int64(999), "last-id", 20},
		},
		{
			name: "a FROM clause with a parameter of its own binds first",
			p:    keyset.Question,
			build: func(q *keyset.Query) (string, keyset.Order) {
				q.From("(SELECT rowid AS hit FROM s WHERE s MATCH ", q.Param(`"abc"`), ") CROSS JOIN books ON books.rowid = hit")
				o := keyset.Order{Column: "created_at"}
				q.After(o, "lower("+q.Param(int64(5))+")", "id-5")
				return "books", o // the From clause wins
			},
			wantSQL:  "SELECT id, title FROM (SELECT rowid AS hit FROM s WHERE s MATCH ?) CROSS JOIN books ON books.rowid = hit WHERE (created_at, id) > (lower(?), ?) ORDER BY created_at ASC, id ASC LIMIT ?",
			wantArgs: []any{`"abc"`, int64(5), "id-5", 20},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := keyset.New(tc.p)
			from, o := tc.build(q)
			sql, args := q.SQL("id, title", from, o, 20)
			if sql != tc.wantSQL {
				t.Errorf("SQL:\n got %s\nwant %s", sql, tc.wantSQL)
			}
			if !reflect.DeepEqual(args, tc.wantArgs) {
				t.Errorf("args = %v, want %v", args, tc.wantArgs)
			}
		})
	}
}

// LIKE's wildcards and the escape character itself are taken literally.
func TestLikePattern(t *testing.T) {
	for in, want := range map[string]string{
		"hobbit":     `%hobbit%`,
		"100%":       `%100\%%`,
		"snake_case": `%snake\_case%`,
		`C:\path`:    `%C:\\path%`,
		"":           `%%`,
	} {
		if got := keyset.LikePattern(in); got != want {
			t.Errorf("LikePattern(%q) = %q, want %q", in, got, want)
		}
	}
}
