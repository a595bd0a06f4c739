// Package faults holds the fault tests: the real binary is crashed, signalled,
// starved of its database and of disk, and must lose nothing it acknowledged
// and answer every request with its contract (503 problem+json, never a 500).
package faults
