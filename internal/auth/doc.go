// Package auth does the security work of the API: password hashing
// (passwords.go) and policy (policy.go), JWT signing keys (keys.go) and
// access tokens (tokens.go), and opaque refresh tokens (refresh.go). It
// speaks the domain types and errors of internal/bookstore and knows
// nothing about HTTP or SQL.
package auth
