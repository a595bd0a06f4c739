package client

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// An error answer that is not a problem document (a proxy's page, say)
// still becomes a *Problem: RFC 9457's about:blank with the status.
func TestProblemFromNonProblemAnswer(t *testing.T) {
	res := &http.Response{
		StatusCode: http.StatusBadGateway,
		Header:     http.Header{"Content-Type": {"text/html"}, "Retry-After": {"7"}},
		Body:       io.NopCloser(strings.NewReader("<html>upstream down</html>")),
	}
	p := problemFrom(res)
	if p.Type != TypeBlank || p.Status != 502 || p.Title != "Bad Gateway" || p.Detail != "<html>upstream down</html>" || p.RetryAfter.Seconds() != 7 {
		t.Fatalf("problem = %+v", p)
	}
	if got := p.Error(); got != "bookstore: 502 about:blank: <html>upstream down</html>" {
		t.Fatalf("Error() = %q", got)
	}
}
