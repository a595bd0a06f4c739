package httpapi

import (
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/bookstore/bookstore/internal/bookstore"
)

// The two hottest answers, a page of books and one book, are encoded by
// hand: encoding/json's reflection over the generated models (whose
// nullable fields marshal through maps) was a quarter of a list request.
// The bytes are exactly what encoding/json writes for oapi.Book and
// oapi.BookPage (TestBookJSONMatchesEncodingJSON), and every response the
// tests see is validated against the spec.

var jsonBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

// bookPageOK is listBooks' 200.
type bookPageOK struct {
	books []bookstore.Book
	next  string // "" on the last page
}

func (r bookPageOK) VisitListBooksResponse(w http.ResponseWriter) error {
	return writeJSON(w, http.StatusOK, func(b []byte) []byte {
		b = append(b, `{"items":[`...)
		for i, book := range r.books {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendBook(b, book)
		}
		b = append(b, `],"next_cursor":`...)
		if r.next == "" {
			b = append(b, "null"...)
		} else {
			b = appendString(b, r.next)
		}
		return append(b, '}', '\n')
	})
}

// bookOK is getBook's 200, with the book's ETag.
type bookOK struct{ book bookstore.Book }

func (r bookOK) VisitGetBookResponse(w http.ResponseWriter) error {
	w.Header().Set("ETag", etag(r.book))
	return writeJSON(w, http.StatusOK, func(b []byte) []byte { return append(appendBook(b, r.book), '\n') })
}

func writeJSON(w http.ResponseWriter, status int, encode func([]byte) []byte) error {
	bp := jsonBuffers.Get().(*[]byte)
	b := encode((*bp)[:0])
	w.Header().Set("Content-Type", "application/json")
	// The length is known: without it a body over net/http's 2 KiB
	// buffer (a page of books) goes out chunked, in more writes.
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, err := w.Write(b)
	if cap(b) <= 64<<10 { // don't let one huge page pin memory
		*bp = b
		jsonBuffers.Put(bp)
	}
	return err
}

// appendBook writes b as oapi.Book, fields in the generated struct's order.
func appendBook(b []byte, book bookstore.Book) []byte {
	b = append(b, `{"author":`...)
	b = appendString(b, book.Author)
	b = append(b, `,"created_at":`...)
	b = appendTime(b, book.CreatedAt)
	b = append(b, `,"id":`...)
	b = appendUUID(b, book.ID)
	b = append(b, `,"isbn":`...)
	if book.ISBN == nil {
		b = append(b, "null"...)
	} else {
		b = appendString(b, *book.ISBN)
	}
	b = append(b, `,"owner_id":`...)
	b = appendUUID(b, book.OwnerID)
	b = append(b, `,"price_cents":`...)
	b = strconv.AppendInt(b, book.PriceCents, 10)
	b = append(b, `,"published_year":`...)
	if book.PublishedYear == nil {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendInt(b, int64(*book.PublishedYear), 10)
	}
	b = append(b, `,"publisher":`...)
	b = appendString(b, book.Publisher)
	b = append(b, `,"title":`...)
	b = appendString(b, book.Title)
	b = append(b, `,"updated_at":`...)
	b = appendTime(b, book.UpdatedAt)
	return append(b, '}')
}

func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

func appendUUID(b []byte, id uuid.UUID) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for i, c := range id {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return append(b, '"')
}

// appendString quotes s as encoding/json does by default: short escapes,
// \u00XX for other control characters and for <, > and & (HTML-safe),
// U+FFFD for invalid UTF-8, and \u2028, \u2029 escaped.
func appendString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
