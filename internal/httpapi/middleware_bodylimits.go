package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/bookstore/bookstore/gen/oapi"
)

// maxBodyBytes is the ceiling of every request body; most operations get a
// much smaller limit from their schema (bodyLimitsOf).
const maxBodyBytes = 1 << 20

// bodyLimits bound what one operation's request body may cost before
// anything decodes it into maps: kin-openapi's validator turns every JSON
// value into an interface and a map or slice, about 35 bytes of memory per
// byte of `[{},{},…]`.
type bodyLimits struct {
	bytes  int64 // the encoded body
	depth  int   // nesting of objects and arrays
	values int   // JSON values of every kind, containers included
	runes  int   // the longest string, keys included, in characters

	// mediaTypes are those the operation takes, sorted: a body in any
	// other gets 415 before it is read.
	mediaTypes []string
}

// Limits for a body whose schema sets no bound (a string without
// maxLength, an array without maxItems, an open object): only the
// ceiling holds, and the scan still stops deep or numerous values.
const (
	unboundedDepth  = 32
	unboundedValues = 10_000
)

// Allowances on top of the largest document a schema allows.
const (
	// Encoded sizes the schema does not fix: a number (JSON allows any
	// length; 32 bytes holds every int64 and float64 as clients write
	// them), and a character written as a surrogate pair of \u escapes.
	numberBytes = 32
	runeBytes   = 12
	// Pretty-printing: a newline and indentation per value.
	whitespacePerValue = 2
	indentPerLevel     = 8
	// Values and levels a body may hold beyond its schema's, so that a
	// stray field is refused by the validator, which names it, rather than
	// by the scan.
	strayValues = 16
	strayLevels = 2
)

// schemaBound is the largest JSON document a schema allows.
type schemaBound struct {
	bytes, depth, values, runes int64
}

// bodyLimitsOf derives an operation's limits from the schemas of its
// request body, the largest of its media types; false when it takes none.
func bodyLimitsOf(op *openapi3.Operation) (bodyLimits, bool) {
	if op.RequestBody == nil || op.RequestBody.Value == nil || len(op.RequestBody.Value.Content) == 0 {
		return bodyLimits{}, false
	}
	lim := schemaLimits(op.RequestBody.Value.Content)
	lim.mediaTypes = slices.Sorted(maps.Keys(op.RequestBody.Value.Content))
	return lim, true
}

// schemaLimits are the limits of the largest body of content's schemas.
func schemaLimits(content openapi3.Content) bodyLimits {
	var max schemaBound
	for _, mt := range content {
		if mt.Schema == nil {
			return unboundedBody()
		}
		b, ok := boundOf(mt.Schema.Value, 0)
		if !ok {
			return unboundedBody()
		}
		max = maxBound(max, b)
	}
	bytes := max.bytes + max.values*(whitespacePerValue+indentPerLevel*max.depth)
	bytes = (bytes + 1023) / 1024 * 1024 // whole KiB: limits people can read
	return bodyLimits{
		bytes:  min(bytes, maxBodyBytes),
		depth:  int(max.depth) + strayLevels,
		values: int(max.values) + strayValues,
		runes:  int(max.runes),
	}
}

func unboundedBody() bodyLimits {
	return bodyLimits{bytes: maxBodyBytes, depth: unboundedDepth, values: unboundedValues, runes: maxBodyBytes}
}

func maxBound(a, b schemaBound) schemaBound {
	return schemaBound{max(a.bytes, b.bytes), max(a.depth, b.depth), max(a.values, b.values), max(a.runes, b.runes)}
}

// boundOf is the largest document s allows, and false when s sets no
// bound. Alternatives (oneOf, anyOf, allOf) count as their largest.
func boundOf(s *openapi3.Schema, level int) (schemaBound, bool) {
	if s == nil || level > unboundedDepth {
		return schemaBound{}, false
	}
	var b schemaBound
	if s.Nullable {
		b = schemaBound{bytes: 4, values: 1}
	}
	for _, group := range []openapi3.SchemaRefs{s.AllOf, s.OneOf, s.AnyOf} {
		for _, ref := range group {
			alt, ok := boundOf(ref.Value, level)
			if !ok {
				return schemaBound{}, false
			}
			b = maxBound(b, alt)
		}
	}
	if s.Type.IsEmpty() && (len(s.AllOf)+len(s.OneOf)+len(s.AnyOf)) > 0 {
		return b, true
	}
	for _, typ := range typesOf(s) {
		var t schemaBound
		switch typ {
		case openapi3.TypeNull:
			t = schemaBound{bytes: 4, values: 1}
		case openapi3.TypeBoolean:
			t = schemaBound{bytes: 5, values: 1}
		case openapi3.TypeInteger, openapi3.TypeNumber:
			t = schemaBound{bytes: numberBytes, values: 1}
		case openapi3.TypeString:
			n, ok := maxRunes(s)
			if !ok {
				return schemaBound{}, false
			}
			t = schemaBound{bytes: 2 + runeBytes*n, values: 1, runes: n}
		case openapi3.TypeArray:
			if s.MaxItems == nil || s.Items == nil {
				return schemaBound{}, false
			}
			item, ok := boundOf(s.Items.Value, level+1)
			if !ok {
				return schemaBound{}, false
			}
			n := int64(*s.MaxItems)
			t = schemaBound{bytes: 2 + n*(item.bytes+1), depth: 1 + item.depth, values: 1 + n*item.values, runes: item.runes}
		case openapi3.TypeObject:
			if s.AdditionalProperties.Has == nil || *s.AdditionalProperties.Has {
				return schemaBound{}, false // open objects take any number of fields
			}
			t = schemaBound{bytes: 2, depth: 1, values: 1}
			for name, ref := range s.Properties {
				p, ok := boundOf(ref.Value, level+1)
				if !ok {
					return schemaBound{}, false
				}
				key := int64(utf8.RuneCountInString(name))
				t.bytes += 2 + runeBytes*key + 1 + p.bytes + 1
				t.depth = max(t.depth, 1+p.depth)
				t.values += p.values
				t.runes = max(t.runes, key, p.runes)
			}
		default:
			return schemaBound{}, false
		}
		b = maxBound(b, t)
	}
	return b, true
}

// typesOf lists the JSON types s allows; a schema without a type allows
// them all, which no bound covers.
func typesOf(s *openapi3.Schema) []string {
	if s.Type.IsEmpty() {
		return []string{"any"}
	}
	return *s.Type
}

// maxRunes is the longest string s allows: its maxLength, or its longest
// enum value.
func maxRunes(s *openapi3.Schema) (int64, bool) {
	if s.MaxLength != nil {
		return int64(*s.MaxLength), true
	}
	if len(s.Enum) == 0 {
		return 0, false
	}
	var n int64
	for _, v := range s.Enum {
		str, ok := v.(string)
		if !ok {
			return 0, false
		}
		n = max(n, int64(utf8.RuneCountInString(str)))
	}
	return n, true
}

// scanJSON checks a body against lim in one pass over its tokens, keeping
// nothing but the path to the current value, before the validator and the
// handler decode it. It also refuses anything but whitespace after the
// first value: a proxy that reads only the first value, or the last, would
// see another request than this server.
func scanJSON(body []byte, lim bodyLimits) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // no float conversion, no range errors: the validator judges numbers
	type frame struct {
		object  bool
		wantKey bool
		key     string // the current key, or the current index in an array
		index   int
	}
	var stack []frame
	values := 0
	path := func(last string) string {
		parts := make([]string, 0, len(stack)+1)
		for _, f := range stack {
			parts = append(parts, f.key)
		}
		if last != "" {
			parts = append(parts, last)
		}
		if len(parts) == 0 {
			return "body"
		}
		return strings.Join(parts, ".")
	}
	tooLong := func(field string) error {
		return badRequest(field+": longer than "+strconv.Itoa(lim.runes)+" characters, the most any field of this request takes",
			oapi.FieldError{Field: field, Message: "must be at most " + strconv.Itoa(lim.runes) + " characters"})
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			if errors.Is(err, io.EOF) && values == 0 {
				return malformed("the body is empty; send one JSON value")
			}
			return malformed("the body is not valid JSON")
		}
		if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].wantKey {
			if tok == json.Delim('}') {
				stack = stack[:n-1]
			} else {
				key, _ := tok.(string) // the decoder allows only strings here
				if utf8.RuneCountInString(key) > lim.runes {
					return tooLong(path(truncateRunes(key, 40) + "…"))
				}
				stack[n-1].key, stack[n-1].wantKey = key, false
				continue
			}
		} else if tok == json.Delim(']') {
			stack = stack[:n-1]
		} else {
			values++
			if values > lim.values {
				return newProblem(413, oapi.ProblemspayloadTooLarge, "The request body is too large.",
					"the body holds more than "+strconv.Itoa(lim.values)+" JSON values, more than this operation takes")
			}
			switch v := tok.(type) {
			case json.Delim: // { or [
				if len(stack) >= lim.depth {
					return malformed("the body nests deeper than " + strconv.Itoa(lim.depth) + " levels")
				}
				f := frame{object: v == '{', wantKey: v == '{'}
				if !f.object {
					f.key = "0"
				}
				stack = append(stack, f)
				continue
			case string:
				if utf8.RuneCountInString(v) > lim.runes {
					return tooLong(path(""))
				}
			}
		}
		// A value is complete: the next is a key, the next element, or the end.
		if n := len(stack); n > 0 {
			if f := &stack[n-1]; f.object {
				f.wantKey = true
			} else {
				f.index++
				f.key = strconv.Itoa(f.index)
			}
			continue
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			return malformed("the body has more after its JSON value; send exactly one JSON value")
		}
		return nil
	}
}
