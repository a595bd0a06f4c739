package httpapi

import (
	"context"
	"net/http"

	"github.com/bookstore/bookstore/gen/oapi"
)

// passwordChangeAllowed are the operations a session whose account must
// change its password may still call: the change itself, and ending the
// session. (Login and refresh take no access token, so no caller reaches
// them through this gate.)
var passwordChangeAllowed = map[string]bool{"changePassword": true, "logout": true}

// passwordChangeRequired answers 403 /problems/password-change-required to
// a caller whose account must change its password (an imported password
// that fails today's policy), on every operation that takes an access token
// but those of passwordChangeAllowed: only those have a caller at all, since
// authenticate runs for them alone. It runs after the validator, so a bad or
// missing token is still 401 and a bad request 400. It is a check on the
// authenticated caller, whatever created the session.
func passwordChangeRequired(ctx context.Context, operationID string) *problem {
	p, ok := principalFrom(ctx)
	if !ok || !p.PasswordChangeRequired || passwordChangeAllowed[operationID] {
		return nil
	}
	return newProblem(http.StatusForbidden, oapi.ProblemspasswordChangeRequired, "You must change your password first.",
		"your password does not meet the password policy: change it with PUT /users/me/password")
}
