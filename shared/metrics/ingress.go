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
		r.received.WithLabelValues(src).Inc()
		rec := &recorder{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, req)
		var resp struct {
			Status string `json:"status"`
		}
		_ = json.Unmarshal(rec.head.Bytes(), &resp)
		switch {
		case rec.code < 300 && resp.Status == "accepted":
			r.accepted.WithLabelValues(src).Inc()
		case rec.code < 300 && resp.Status != "":
			r.refused.WithLabelValues(src, resp.Status).Inc()
		case rec.code < 300:
			r.accepted.WithLabelValues(src).Inc()
		default:
			r.refused.WithLabelValues(src, reason(rec.code)).Inc()
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
