package githubauth

import (
	"context"
	"os"
)

// TokenSource returns a GitHub token valid for at least a few minutes.
// *App is one; StaticToken is the plain-token stand-in.
type TokenSource interface {
	Token(ctx context.Context) (string, error)
}

// StaticToken is a fixed token (a personal access token, or one given by
// CI): for local runs and tests, not for production, where installation
// tokens expire by design.
type StaticToken string

// Token implements TokenSource.
func (t StaticToken) Token(context.Context) (string, error) { return string(t), nil }

// EnvToken returns the token in the environment variable name, or nil when
// it is unset or empty: no credentials rather than an empty password.
func EnvToken(name string) TokenSource {
	if tok := os.Getenv(name); tok != "" {
		return StaticToken(tok)
	}
	return nil
}
