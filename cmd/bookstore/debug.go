package main

import (
	"net/http"
	"net/http/pprof"
)

// newDebugHandler serves Go's profiler (net/http/pprof) on a mux of its own,
// for the listener BOOKSTORE_DEBUG_ADDR opens: the API's handler never
// routes to it, whatever that address is. Import side effects of
// net/http/pprof register the same handlers on http.DefaultServeMux, which
// nothing here serves.
func newDebugHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/pprof/", pprof.Index) // also heap, goroutine, allocs, block, mutex, threadcreate
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("POST /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return mux
}
