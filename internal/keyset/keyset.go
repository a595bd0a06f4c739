// Package keyset assembles the keyset-paged SELECT statements the store
// adapters cannot write as sqlc queries, because the caller picks the ORDER
// BY (and with it the keyset condition): a CASE in ORDER BY would defeat
// the indexes. One builder serves both engines; what differs between them
// (placeholders, column names, how a value is folded) is what they pass in.
//
// Statements are assembled only from fixed fragments the adapters hold;
// every value is a bound parameter.
package keyset

import (
	"strconv"
	"strings"
)

// Placeholder returns the text of the n-th bound parameter (1-based).
type Placeholder func(n int) string

// Question is SQLite's positional placeholder.
func Question(int) string { return "?" }

// Dollar is PostgreSQL's numbered placeholder.
func Dollar(n int) string { return "$" + strconv.Itoa(n) }

// Order is a page's order: one column, then id in the same direction to
// break ties. Each order needs an index ending in id for the page start to
// be a seek.
type Order struct {
	Column string
	Desc   bool
}

// Query collects the conditions and arguments of one statement. Bind
// values in the order their placeholders appear in the statement: the FROM
// clause's first, then the conditions', then the keyset's; the limit is
// bound last by SQL. Fragments are written straight into the statement, so
// building one costs few allocations (ListBooks runs on every page).
type Query struct {
	placeholder Placeholder
	from        strings.Builder
	where       strings.Builder
	args        []any
}

// New starts a statement with the engine's placeholders.
func New(p Placeholder) *Query { return &Query{placeholder: p} }

// Param binds v and returns its placeholder.
func (q *Query) Param(v any) string {
	q.args = append(q.args, v)
	return q.placeholder(len(q.args))
}

// From sets the FROM clause, the concatenation of fragments (default:
// the table SQL is given).
func (q *Query) From(fragments ...string) {
	q.from.Reset()
	for _, f := range fragments {
		q.from.WriteString(f)
	}
}

// Where adds a condition, the concatenation of fragments; conditions are
// joined with AND.
func (q *Query) Where(fragments ...string) {
	if q.where.Len() > 0 {
		q.where.WriteString(" AND ")
	} else {
		q.where.Grow(160) // room for the usual conditions: one allocation
	}
	for _, f := range fragments {
		q.where.WriteString(f)
	}
}

// After starts the page after the row whose order value is the SQL
// expression value (usually a placeholder from Param) and whose id is id. A
// row value compares column by column exactly as ORDER BY sorts (with each
// column's collation), and both engines turn it into an index range.
func (q *Query) After(o Order, value string, id any) {
	cmp := ") > ("
	if o.Desc {
		cmp = ") < ("
	}
	q.Where("(", o.Column, ", id", cmp, value, ", ", q.Param(id), ")")
}

// SQL returns the statement, SELECT columns FROM the From clause (or
// table), with the conditions, the order and LIMIT limit, and its
// arguments.
func (q *Query) SQL(columns, table string, o Order, limit any) (string, []any) {
	dir := " ASC"
	if o.Desc {
		dir = " DESC"
	}
	var sb strings.Builder
	sb.Grow(64 + len(columns) + q.from.Len() + len(table) + q.where.Len())
	sb.WriteString("SELECT ")
	sb.WriteString(columns)
	sb.WriteString(" FROM ")
	if q.from.Len() > 0 {
		sb.WriteString(q.from.String())
	} else {
		sb.WriteString(table)
	}
	if q.where.Len() > 0 {
		sb.WriteString(" WHERE ")
		sb.WriteString(q.where.String())
	}
	sb.WriteString(" ORDER BY ")
	sb.WriteString(o.Column)
	sb.WriteString(dir)
	sb.WriteString(", id")
	sb.WriteString(dir)
	sb.WriteString(" LIMIT ")
	sb.WriteString(q.Param(limit))
	return sb.String(), q.args
}

// likeEscaper escapes LIKE's wildcards and its escape character, \ (the
// default on PostgreSQL, ESCAPE '\' on SQLite). A Replacer is safe for
// concurrent use and builds its tables on first use: one serves every
// search.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// LikePattern matches s as a literal substring in LIKE with \ as the
// escape character.
func LikePattern(s string) string {
	return "%" + likeEscaper.Replace(s) + "%"
}
