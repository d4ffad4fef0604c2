package board

import (
	"html/template"
	"strconv"
	"strings"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/logging"
)

// funcs are the templates' helpers. Each returns plain strings: escaping
// is html/template's, never theirs.
var funcs = template.FuncMap{
	"short":  shortDigest,
	"short7": func(s string) string { return prefix(s, 7) },
	"utc": func(t time.Time) string {
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"iso":    func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"join":   func(s []string) string { return strings.Join(s, ", ") },
	"redact": logging.RedactURLs,
	"dur": func(d time.Duration) string {
		if d == 0 {
			return "—"
		}
		return d.Round(time.Second).String()
	},
	"pct":  func(f float64) int { return int(f*100 + 0.5) },
	"rate": func(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) },
}

// shortDigest keeps "sha256:" and the first 12 hex digits.
func shortDigest(d string) string {
	if d == "" {
		return "—"
	}
	return prefix(d, len("sha256:")+12)
}

func prefix(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
