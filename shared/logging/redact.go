package logging

import (
	"log/slog"
	"regexp"
	"strings"
)

// userinfo matches a URL's scheme and the user name and password (or
// token) before its host: everything after "://" up to the last "@" before
// the first "/", "?", "#", space or quote.
var userinfo = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.\-]*://)[^/?#\s"'<>` + "`" + `]*@`)

// RedactURLs returns s with the user information (user name, password or
// token) of every URL in it removed and the rest kept:
// "cloning https://x:TOKEN@host/r.git" becomes "cloning https://host/r.git".
// A URL's user name alone can be a token, so it goes too.
func RedactURLs(s string) string {
	if !strings.Contains(s, "@") {
		return s
	}
	return userinfo.ReplaceAllString(s, "$1")
}

// RedactError returns err with RedactURLs applied to its message. The
// result unwraps to err, so errors.Is, errors.As and retry.IsPermanent see
// the same chain. nil stays nil, and an error with nothing to redact is
// returned as is.
func RedactError(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if red := RedactURLs(msg); red != msg {
		return &redactedError{msg: red, err: err}
	}
	return err
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redactAttr hides the value of a secret-named attribute and the
// credentials of any URL in a string, error or other value.
func redactAttr(a slog.Attr) slog.Attr {
	k := strings.ToLower(a.Key)
	for _, w := range secretWords {
		if strings.Contains(k, w) {
			return slog.String(a.Key, Redacted)
		}
	}
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		if s := v.String(); strings.Contains(s, "@") {
			return slog.String(a.Key, RedactURLs(s))
		}
	case slog.KindGroup:
		attrs := v.Group()
		out := make([]slog.Attr, len(attrs))
		for i, g := range attrs {
			out[i] = redactAttr(g)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(out...)}
	case slog.KindAny:
		// Errors, slices, structs: their printed form is what a handler
		// writes, so redact that.
		if err, ok := v.Any().(error); ok {
			return slog.String(a.Key, RedactURLs(err.Error()))
		}
		if s := slog.AnyValue(v.Any()).String(); strings.Contains(s, "://") && strings.Contains(s, "@") {
			return slog.String(a.Key, RedactURLs(s))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
