// Command baseline is the reference point of `make bench`: a bare net/http
// server that does what the API's authenticated list does minus everything
// the API adds — it checks an HS256 access token with golang-jwt (same
// algorithm allow-list, issuer, audience and required expiry as the real
// server) and encodes a JSON page of 20 books with encoding/json. No
// database, no request validation, no logging.
//
// The page is the one the real server returned for the same list during
// the benchmark (-page), decoded once into typed structs and encoded again
// on every request, so both servers write the same bytes.
//
// It is a benchmark tool, never part of the bookstore binary.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// book and page have the shape of the API's Book and BookPage, with the
// same Go types the generated models use for the costly fields (uuid.UUID,
// time.Time, nullable values as pointers).
type book struct {
	Author        string    `json:"author"`
	CreatedAt     time.Time `json:"created_at"`
	ID            uuid.UUID `json:"id"`
	ISBN          *string   `json:"isbn"`
	OwnerID       uuid.UUID `json:"owner_id"`
	PriceCents    int64     `json:"price_cents"`
	PublishedYear *int      `json:"published_year"`
	Publisher     string    `json:"publisher"`
	Title         string    `json:"title"`
	UpdatedAt     time.Time `json:"updated_at"`
}

type page struct {
	Items      []book  `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

type claims struct {
	jwt.RegisteredClaims
	SessionID string `json:"sid"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on (loopback only)")
	pageFile := flag.String("page", "", "JSON file of a book page (required)")
	issuer := flag.String("issuer", "bookstore", "required iss claim")
	audience := flag.String("audience", "bookstore-api", "required aud claim")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("baseline: ")

	secret := []byte(os.Getenv("BASELINE_JWT_SECRET"))
	if len(secret) < 32 {
		log.Fatal("BASELINE_JWT_SECRET must hold at least 32 bytes")
	}
	raw, err := os.ReadFile(*pageFile)
	if err != nil {
		log.Fatal(err)
	}
	var p page
	if err := json.Unmarshal(raw, &p); err != nil {
		log.Fatalf("%s: %v", *pageFile, err)
	}
	if err := checkLoopback(*addr); err != nil {
		log.Fatal(err)
	}

	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{"HS256"}),
		jwt.WithIssuer(*issuer),
		jwt.WithAudience(*audience),
		jwt.WithExpirationRequired(),
	)
	keyFunc := func(*jwt.Token) (any, error) { return secret, nil }

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /books", func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		var c claims
		if !ok {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		if _, err := parser.ParseWithClaims(token, &c, keyFunc); err != nil || c.SessionID == "" {
			http.Error(w, "invalid token", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if err := json.NewEncoder(w).Encode(p); err != nil {
			log.Print(err)
		}
	})

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 120 * time.Second}
	go func() {
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
		<-stop
		srv.Close()
	}()
	fmt.Fprintf(os.Stderr, "baseline: listening on %s\n", ln.Addr())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

// checkLoopback refuses to listen anywhere but a loopback address.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("listen address %q is not a loopback address", addr)
	}
	return nil
}
