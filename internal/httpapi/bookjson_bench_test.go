package httpapi

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/bookstore/bookstore/internal/bookstore"
)

// An internal test: the page writer is unexported. BenchmarkEncodeBookPage
// (api_bench_test.go) is the same page through the generated encoder, for
// comparison.

type nopResponseWriter struct{ h http.Header }

func (w nopResponseWriter) Header() http.Header         { return w.h }
func (w nopResponseWriter) WriteHeader(int)             {}
func (w nopResponseWriter) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkWriteBookPage is the JSON of a page of 20 books as listBooks
// writes it.
func BenchmarkWriteBookPage(b *testing.B) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	owner := uuid.Must(uuid.NewV7())
	isbn, year := "9780261102217", 1937
	page := bookPageOK{next: "eyJuIjoxNzk1ODg5MzQ1MDAwLCJpIjoiMDFhMjIzNTgifQ"}
	for n := range 20 {
		page.books = append(page.books, bookstore.Book{
			ID: uuid.Must(uuid.NewV7()), OwnerID: owner, Title: "The Hobbit, volume " + strconv.Itoa(n),
			Author: "J. R. R. Tolkien", Publisher: "HarperCollins", PriceCents: 1299, ISBN: &isbn, PublishedYear: &year,
			CreatedAt: now, UpdatedAt: now,
		})
	}
	w := nopResponseWriter{http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		if err := page.VisitListBooksResponse(w); err != nil {
			b.Fatal(err)
		}
	}
}
