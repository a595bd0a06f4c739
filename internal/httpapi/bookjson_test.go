package httpapi

import (
	"encoding/json"
	"math/rand/v2"
	"net/http/httptest"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/bookstore/bookstore/gen/oapi"
	"github.com/bookstore/bookstore/internal/bookstore"
)

// TestBookJSONMatchesEncodingJSON holds the hand-written encoder to the
// bytes encoding/json writes for the generated models.
func TestBookJSONMatchesEncodingJSON(t *testing.T) {
	strs := []string{"", "Dune", `quote " and \ back`, "<b>&amp;</b>", "tab\tnew\nline\r\x00\x1f\x7f", "é ü 漢字 🚲",
		"line\u2028sep\u2029", "1" + string(rune(0x10FFFF))}
	rnd := rand.New(rand.NewPCG(1, 2))
	pick := func() string { return strs[rnd.IntN(len(strs))] }
	var books []bookstore.Book
	for i := range 200 {
		b := bookstore.Book{
			ID: uuid.Must(uuid.NewV7()), OwnerID: uuid.New(), Title: pick(), Author: pick(), Publisher: pick(),
			PriceCents: rnd.Int64N(1_000_000_001), Version: 1,
			CreatedAt: time.UnixMilli(rnd.Int64N(1 << 42)).UTC(), UpdatedAt: time.Unix(rnd.Int64N(1<<34), rnd.Int64N(1e9)).UTC(),
		}
		if i%2 == 0 {
			isbn, year := "9780261102217", rnd.IntN(10000)
			b.ISBN, b.PublishedYear = &isbn, &year
		}
		books = append(books, b)
	}
	for _, next := range []string{"", "eyJpIjoieCJ9AAAA"} {
		want := oapi.BookPage{Items: make([]oapi.Book, len(books))}
		for i, b := range books {
			want.Items[i] = bookOut(b)
		}
		if next == "" {
			want.NextCursor.SetNull()
		} else {
			want.NextCursor.Set(next)
		}
		wantJSON, _ := json.Marshal(want)
		rec := httptest.NewRecorder()
		if err := (bookPageOK{books: books, next: next}).VisitListBooksResponse(rec); err != nil {
			t.Fatal(err)
		}
		if got := rec.Body.String(); got != string(wantJSON)+"\n" {
			t.Fatalf("page differs from encoding/json:\n got %.400s\nwant %.400s", got, wantJSON)
		}
	}
	for _, b := range books[:10] {
		wantJSON, _ := json.Marshal(bookOut(b))
		rec := httptest.NewRecorder()
		if err := (bookOK{b}).VisitGetBookResponse(rec); err != nil {
			t.Fatal(err)
		}
		if rec.Body.String() != string(wantJSON)+"\n" || rec.Header().Get("ETag") != `"1"` {
			t.Fatalf("book differs: %s vs %s", rec.Body, wantJSON)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a\"b", "\xff", "\u2028", "<&>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return // never reaches the encoder: request bodies must be UTF-8
		}
		want, _ := json.Marshal(s)
		if got := appendString(nil, s); string(got) != string(want) {
			t.Fatalf("appendString(%q) = %s, want %s", s, got, want)
		}
	})
}
