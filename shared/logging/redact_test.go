package logging

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestRedactURLs(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"cloning https://user:s3cret@github.com/acme/web.git branch main", "cloning https://github.com/acme/web.git branch main"},
		{"https://ghs_token@github.com/acme/web", "https://github.com/acme/web"},
		{`fetching "https://u:p@ss@127.0.0.1:1/x.git": refused`, `fetching "https://127.0.0.1:1/x.git": refused`},
		{"a=http://a:b@h1/x b=ssh://git:pw@h2:22/y", "a=http://h1/x b=ssh://h2:22/y"},
		{"HTTPS://USER:PW@HOST", "HTTPS://HOST"},
		{"https://github.com/acme/web?email=a@b.c", "https://github.com/acme/web?email=a@b.c"},
		{"git@github.com:acme/web.git and dev@example.com", "git@github.com:acme/web.git and dev@example.com"},
		{"no URL here", "no URL here"},
	} {
		if got := RedactURLs(tc.in); got != tc.want {
			t.Errorf("RedactURLs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

var errSentinel = errors.New("sentinel")

func TestRedactErrorKeepsTheChain(t *testing.T) {
	err := RedactError(fmt.Errorf("pushing to https://x:s3cret@h/r.git: %w", errSentinel))
	if strings.Contains(err.Error(), "s3cret") || !errors.Is(err, errSentinel) {
		t.Fatalf("RedactError = %q (is sentinel: %v)", err, errors.Is(err, errSentinel))
	}
	if RedactError(nil) != nil {
		t.Fatal("RedactError(nil) is not nil")
	}
}

// TestLoggedURLsCarryNoCredentials logs a credentialed URL as the message,
// a string, an error, inside a group and through With, on both handlers.
func TestLoggedURLsCarryNoCredentials(t *testing.T) {
	const u = "https://user:s3cret@127.0.0.1:1/x.git"
	for name, mk := range map[string]func(*bytes.Buffer) *slog.Logger{
		"New":  func(b *bytes.Buffer) *slog.Logger { return New(b, slog.LevelInfo) },
		"Wrap": func(b *bytes.Buffer) *slog.Logger { return slog.New(Wrap(slog.NewTextHandler(b, nil))) },
	} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			log := mk(&buf).With("repo", u)
			log.InfoContext(context.Background(), "cloning "+u, "url", u, "error", fmt.Errorf("cloning %s: refused", u),
				slog.Group("g", "inner", u), "list", []string{u})
			if strings.Contains(buf.String(), "s3cret") || strings.Contains(buf.String(), "user:") {
				t.Fatalf("log line leaks the credentials: %s", buf.String())
			}
			if !strings.Contains(buf.String(), "127.0.0.1:1/x.git") {
				t.Fatalf("log line lost the URL itself: %s", buf.String())
			}
		})
	}
}
