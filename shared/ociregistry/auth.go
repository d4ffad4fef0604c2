package ociregistry

import (
	"crypto/subtle"
	"net"
	"net/http"
	"strings"
)

// PushUser is the user name pushes present when the registry requires
// credentials.
const PushUser = "conveyor"

// Option configures a Registry.
type Option func(*Registry)

// WithLostFound sets the directory where the registry sets aside what it
// will not serve (default: lost+found inside its own directory).
func WithLostFound(dir string) Option { return func(r *Registry) { r.lostFound = dir } }

// WithPushPassword requires HTTP basic credentials PushUser:password for
// every write (PUT, POST, PATCH, DELETE). Reads stay anonymous, as a
// cluster pulls them. An empty password requires nothing.
func WithPushPassword(password string) Option {
	return func(r *Registry) { r.password = password }
}

// IsLoopback reports whether a listen address (host:port) accepts
// connections from this machine only. An empty host listens everywhere.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// authorized reports whether req may proceed: reads always, writes with
// the push credentials when they are required. The /v2/ ping answers a
// client without credentials with the Basic challenge, so that clients
// send them with their writes.
func (r *Registry) authorized(req *http.Request) bool {
	if r.password == "" {
		return true
	}
	switch req.Method {
	case http.MethodGet, http.MethodHead:
		if req.URL.Path != "/v2/" && req.URL.Path != "/v2" {
			return true
		}
		if _, _, ok := req.BasicAuth(); !ok {
			return false
		}
	}
	user, pass, ok := req.BasicAuth()
	return ok && subtle.ConstantTimeCompare([]byte(user), []byte(PushUser)) == 1 &&
		subtle.ConstantTimeCompare([]byte(pass), []byte(r.password)) == 1
}

func unauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Basic realm="conveyor"`)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"pushing to this registry needs its credentials"}]}` + "\n"))
}
