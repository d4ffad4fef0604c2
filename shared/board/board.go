package board

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// ContentSecurityPolicy is sent with every response: scripts, styles and
// connections from the board's own origin only, nothing inline, no frames.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'"

// HeaderFragment asks for a page's main content alone: the board's script
// sends it to refresh a page in place.
const HeaderFragment = "X-Board-Fragment"

// HeaderVersion carries the version of the data a response was rendered
// from; /events announces new versions.
const HeaderVersion = "X-Board-Version"

// Board serves the pipeline board.
type Board struct {
	src   Sources
	pages map[string]*template.Template
	mux   *http.ServeMux
	live  *live
	log   *slog.Logger
	now   func() time.Time
	cache *commitCache
	// done ends the event streams (Stop), which would otherwise hold a
	// graceful server shutdown until its timeout.
	done     chan struct{}
	stopOnce sync.Once
	// polling makes pages poll /version instead of listening to /events,
	// for a host that cannot stream a response (Lambda behind API
	// Gateway buffers it).
	polling   bool
	pollEvery time.Duration
}

// Option changes a Board's defaults.
type Option func(*Board)

// WithPollInterval sets how often the data's version is checked while a
// page listens for changes (default 500 ms).
func WithPollInterval(d time.Duration) Option {
	return func(b *Board) { b.live.every = d }
}

// WithPolling serves no /events: pages ask /version for changes every
// interval instead (at least a second), for hosts that buffer responses.
func WithPolling(interval time.Duration) Option {
	return func(b *Board) { b.polling, b.pollEvery = true, max(interval, time.Second) }
}

// WithLogger sets where render and read errors are logged.
func WithLogger(l *slog.Logger) Option { return func(b *Board) { b.log = l } }

// WithClock replaces time.Now (freeze windows, metrics windows).
func WithClock(now func() time.Time) Option { return func(b *Board) { b.now = now } }

// New returns the board reading src.
func New(src Sources, opts ...Option) (*Board, error) {
	if src.Config == nil || src.Releases == nil {
		return nil, errors.New("the board needs the pipeline config and the release records")
	}
	b := &Board{src: src, log: slog.Default(), now: time.Now, cache: newCommitCache(4096), done: make(chan struct{})}
	b.live = &live{every: 500 * time.Millisecond, version: b.version}
	for _, o := range opts {
		o(b)
	}
	if b.live.every <= 0 {
		return nil, errors.New("the poll interval must be positive")
	}
	var err error
	if b.pages, err = parsePages(b.liveAttrs()); err != nil {
		return nil, err
	}
	static, _ := fs.Sub(staticFS, "static")
	b.mux = http.NewServeMux()
	b.mux.HandleFunc("GET /{$}", b.grid)
	b.mux.HandleFunc("GET /apps/{app}", b.app)
	b.mux.HandleFunc("GET /prs/{number}", b.pr)
	b.mux.HandleFunc("GET /ops", b.ops)
	if !b.polling {
		b.mux.HandleFunc("GET /events", b.events)
	}
	b.mux.HandleFunc("GET /version", b.versionJSON)
	b.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	return b, nil
}

// Stop ends every open event stream, before the server shuts down; pages
// then reconnect to whatever serves next.
func (b *Board) Stop() { b.stopOnce.Do(func() { close(b.done) }) }

// ServeHTTP serves every page with the security headers; the board only
// reads, so every method but GET and HEAD is refused.
func (b *Board) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "the board is read-only", http.StatusMethodNotAllowed)
		return
	}
	b.mux.ServeHTTP(w, r)
}

// liveAttrs tells the page's script how to learn of changes: "events",
// or "poll" with the interval in milliseconds.
func (b *Board) liveAttrs() template.FuncMap {
	mode, every := "events", "0"
	if b.polling {
		mode, every = "poll", strconv.FormatInt(b.pollEvery.Milliseconds(), 10)
	}
	return template.FuncMap{"liveMode": func() string { return mode }, "pollEvery": func() string { return every }}
}

func parsePages(live template.FuncMap) (map[string]*template.Template, error) {
	pages := map[string]*template.Template{}
	for _, p := range []string{"grid", "app", "pr", "ops"} {
		t, err := template.New(p).Funcs(funcs).Funcs(live).ParseFS(templateFS, "templates/layout.html", "templates/"+p+".html")
		if err != nil {
			return nil, fmt.Errorf("parsing the %s page: %w", p, err)
		}
		pages[p] = t
	}
	return pages, nil
}

// render writes a page, or its main content alone when the board's script
// asks for a fragment. It renders into a buffer first so that a template
// error is a 500, not half a page.
func (b *Board) render(ctx context.Context, w http.ResponseWriter, r *http.Request, page string, data any) {
	name := "layout"
	if r.Header.Get(HeaderFragment) != "" {
		name = "main"
	}
	var buf bytes.Buffer
	if err := b.pages[page].ExecuteTemplate(&buf, name, data); err != nil {
		b.log.ErrorContext(ctx, "rendering the board", "page", page, "err", err)
		http.Error(w, "rendering the page failed; see the log", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if v, ok := data.(interface{ version() string }); ok {
		w.Header().Set(HeaderVersion, v.version())
	}
	_, _ = buf.WriteTo(w)
}

// fail answers a read error without its details, which stay in the log:
// an error may name a repository URL or a path.
func (b *Board) fail(ctx context.Context, w http.ResponseWriter, what string, err error) {
	b.log.ErrorContext(ctx, "reading for the board", "what", what, "err", err)
	http.Error(w, "reading "+what+" failed; see the log", http.StatusInternalServerError)
}
