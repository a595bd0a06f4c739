package bookstore_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/bookstore/bookstore/internal/bookstore"
)

func TestNormalizeISBN(t *testing.T) {
	valid := map[string]string{
		"978-0-261-10221-7": "9780261102217",
		"9780261102217":     "9780261102217",
		"0-261-10236-2":     "9780261102361",
		"0 261 10236 2":     "9780261102361",
		"080442957X":        "9780804429573",
		"080442957x":        "9780804429573",
	}
	for in, want := range valid {
		got, err := bookstore.NormalizeISBN(in)
		if err != nil || got != want {
			t.Errorf("NormalizeISBN(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	invalid := []string{"", "978-0-261-10221-8", "0-261-10236-3", "12345", "97802611023690", "X804429570", "978026110236X", "978_0261102369", "０２６１１０２３６２"}
	for _, in := range invalid {
		_, err := bookstore.NormalizeISBN(in)
		if !errors.Is(err, bookstore.ErrInvalid) {
			t.Errorf("NormalizeISBN(%q) error = %v; want ErrInvalid", in, err)
		}
	}
}

func TestCleanText(t *testing.T) {
	if got, err := bookstore.CleanText("title", "  Dune \t"); err != nil || got != "Dune" {
		t.Fatalf("CleanText trims: got %q, %v", got, err)
	}
	if got, err := bookstore.CleanText("title", strings.Repeat("é", 200)); err != nil || got == "" {
		t.Fatalf("200 code points are allowed: %v", err)
	}
	for _, in := range []string{"", "   ", strings.Repeat("a", 201), "a\x00b", "a\nb", "\xff"} {
		_, err := bookstore.CleanText("title", in)
		var de *bookstore.Error
		if !errors.As(err, &de) || len(de.Fields) != 1 || de.Fields[0].Field != "title" {
			t.Errorf("CleanText(%q) = %v; want a field error on title", in, err)
		}
	}
}

func FuzzNormalizeISBN(f *testing.F) {
	for _, s := range []string{"978-0-261-10221-7", "080442957X", "", "X", "--", "0 261 10236 2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := bookstore.NormalizeISBN(s)
		if err != nil {
			return
		}
		if len(got) != 13 {
			t.Fatalf("NormalizeISBN(%q) = %q: not 13 digits", s, got)
		}
		again, err := bookstore.NormalizeISBN(got)
		if err != nil || again != got {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", s, got, again, err)
		}
	})
}
