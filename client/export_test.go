package client

import "time"

// SetClock replaces the client's clock, so tests can age tokens without
// waiting.
func SetClock(c *Client, now func() time.Time) { c.now = now }
