// Package contracttest checks the real program against its contract with a
// validator that shares nothing with it: the bookstore binary runs on a
// fresh SQLite file behind Prism (@stoplight/prism-cli) in validating proxy
// mode with --errors, and the suite drives every operation's success and
// documented error paths through the proxy with the generated client
// (gen/oapi). Any response Prism finds at odds with api/openapi.yaml fails
// the run, and so does an operation of the spec the suite never called.
//
// The package has tests only. They need the prism executable in
// BOOKSTORE_TEST_PRISM and skip without it; `make contract` (.ci/prism)
// installs the pinned Prism into a scratch directory and runs them.
package contracttest
