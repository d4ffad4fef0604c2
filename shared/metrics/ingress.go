package metrics

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
)

// Ingress decorates the webhook handler: every request is counted as
// received, then as accepted or refused with its reason, read from the
// handler's answer.
func (r *Registry) Ingress(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		src := source(req.URL.Path)
		r.add(r.received, 1, src)
		rec := &recorder{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, req)
		var resp struct {
			Status string `json:"status"`
		}
		_ = json.Unmarshal(rec.head.Bytes(), &resp)
		switch {
		case rec.code < 300 && resp.Status == "accepted":
			r.add(r.accepted, 1, src)
		case rec.code < 300 && resp.Status != "":
			r.add(r.refused, 1, src, resp.Status)
		case rec.code < 300:
			r.add(r.accepted, 1, src)
		default:
			r.add(r.refused, 1, src, reason(rec.code))
		}
	})
}

// reason names an HTTP status as a label: "unauthorized",
// "request_entity_too_large".
func reason(code int) string {
	t := http.StatusText(code)
	if t == "" {
		return "status_" + http.StatusText(http.StatusInternalServerError)
	}
	return strings.ToLower(strings.NewReplacer(" ", "_", "-", "_").Replace(t))
}

// recorder keeps the status and the start of the body (the ingress
// answers with a small JSON document).
type recorder struct {
	http.ResponseWriter
	code  int
	wrote bool
	head  bytes.Buffer
}

const keepBody = 4 << 10

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.code, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	if room := keepBody - r.head.Len(); room > 0 {
		r.head.Write(b[:min(room, len(b))])
	}
	return r.ResponseWriter.Write(b)
}
