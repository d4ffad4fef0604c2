package ociregistry

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/event"
	ggcr "github.com/google/go-containerregistry/pkg/registry"
)

// NotificationType is the media type of the notifications the registry
// sends, as distribution v3 does.
const NotificationType = "application/vnd.docker.distribution.events.v2+json"

// Notifier delivers one notification envelope; an error is retried.
type Notifier func(ctx context.Context, contentType string, body []byte) error

// Registry is an http.Handler serving the OCI distribution API.
type Registry struct {
	inner   http.Handler
	journal *os.File
	notify  Notifier
	log     *slog.Logger
	id      string
	// password, when set, is required of writes (see WithPushPassword).
	password string
	// lostFound receives what the registry sets aside (see WithLostFound).
	lostFound string

	mu sync.Mutex // serialises journal writes
}

type entry struct {
	Method    string `json:"method"`
	Path      string `json:"path"`
	MediaType string `json:"media_type,omitempty"`
	Body      []byte `json:"body,omitempty"`
}

// Open serves a registry whose data lives in dir, replaying the manifests
// pushed before. notify may be nil.
func Open(dir string, notify Notifier, logger *slog.Logger, opts ...Option) (*Registry, error) {
	if logger == nil {
		logger = slog.Default()
	}
	// Blobs are the images: private to the owner, like the rest of the
	// data directory.
	// The disk blob handler would create blobs/sha256 with 0777 less the
	// umask.
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o700); err != nil {
		return nil, fmt.Errorf("creating registry dir: %w", err)
	}
	r := &Registry{
		inner: ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0)),
			ggcr.WithBlobHandler(ggcr.NewDiskBlobHandler(filepath.Join(dir, "blobs")))),
		notify: notify,
		log:    logger,
		id:     event.NewID(),
	}
	for _, o := range opts {
		o(r)
	}
	if r.lostFound == "" {
		r.lostFound = filepath.Join(dir, "lost+found")
	}
	path := filepath.Join(dir, JournalName)
	if err := r.replay(dir); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening manifest journal: %w", err)
	}
	r.journal = f
	return r, nil
}

// Close closes the journal.
func (r *Registry) Close() error { return r.journal.Close() }

// replay serves again the manifests journaled in dir. A last line cut
// short is a push that never succeeded: it is set aside in lost+found and
// cut off, so the next line starts clean. Any other damage refuses to
// start rather than serve a registry that lost images silently.
func (r *Registry) replay(dir string) error {
	s, err := scan(dir, false)
	if err != nil {
		return err
	}
	if n := len(s.lines); n > 0 && s.lines[n-1].torn {
		if err := r.cutTorn(filepath.Join(dir, JournalName), s.lines[n-1]); err != nil {
			return err
		}
		delete(s.badLines, s.lines[n-1].n)
		s.lines = s.lines[:n-1]
	}
	if found := s.findings(); len(found) > 0 {
		var first []string
		for _, f := range found[:min(3, len(found))] {
			first = append(first, f.String())
		}
		return fmt.Errorf("%w: %d problem(s) in %s, first: %s", ErrDamaged, len(found), dir, strings.Join(first, "; "))
	}
	for _, l := range s.lines {
		e := l.e
		req := httptest.NewRequest(e.Method, e.Path, bytes.NewReader(e.Body))
		if e.MediaType != "" {
			req.Header.Set("Content-Type", e.MediaType)
		}
		r.inner.ServeHTTP(httptest.NewRecorder(), req)
	}
	return nil
}

// cutTorn sets a torn last line aside and truncates the journal before it.
func (r *Registry) cutTorn(path string, l line) error {
	q := filepath.Join(r.lostFound, time.Now().UTC().Format("20060102T150405.000000000Z")+"-registry-torn")
	if err := writePrivate(filepath.Join(q, JournalName), l.raw); err != nil {
		return err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("reading manifest journal: %w", err)
	}
	if err := os.Truncate(path, fi.Size()-int64(len(l.raw))); err != nil {
		return fmt.Errorf("cutting the torn last line of %s: %w", path, err)
	}
	r.log.Warn("manifest journal ended in a line cut short (a push that never completed): set it aside",
		"journal", path, "line", l.n, "quarantine", q)
	return nil
}

// ServeHTTP implements http.Handler.
func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if !r.authorized(req) {
		unauthorized(w)
		return
	}
	repo, ref, ok := manifestPath(req.URL.Path)
	if !ok || (req.Method != http.MethodPut && req.Method != http.MethodDelete) {
		r.inner.ServeHTTP(w, req)
		return
	}
	var body []byte
	if req.Method == http.MethodPut {
		b, err := io.ReadAll(io.LimitReader(req.Body, 8<<20))
		if err != nil {
			http.Error(w, "reading manifest", http.StatusBadRequest)
			return
		}
		body = b
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	rec := httptest.NewRecorder()
	r.inner.ServeHTTP(rec, req)
	if rec.Code < 300 {
		if err := r.record(entry{Method: req.Method, Path: req.URL.Path, MediaType: req.Header.Get("Content-Type"), Body: body}); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
	if req.Method == http.MethodPut && rec.Code == http.StatusCreated && r.notify != nil {
		digest := rec.Header().Get("Docker-Content-Digest")
		tag := ""
		if !strings.HasPrefix(ref, "sha256:") {
			tag = ref
		}
		r.send(req, repo, tag, digest, req.Header.Get("Content-Type"), len(body))
	}
}

// record appends a manifest change to the journal, durably, before the
// client hears it succeeded.
func (r *Registry) record(e entry) error {
	line, err := json.Marshal(e)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	fi, err := r.journal.Stat()
	if err != nil {
		return fmt.Errorf("journaling manifest: %w", err)
	}
	if _, err := r.journal.Write(append(line, '\n')); err != nil {
		// A short write (disk full) must not leave half a line for the
		// next one to be glued to.
		_ = r.journal.Truncate(fi.Size())
		return fmt.Errorf("journaling manifest: %w", err)
	}
	return r.journal.Sync()
}

// manifestPath splits /v2/<repo>/manifests/<ref>.
func manifestPath(p string) (repo, ref string, ok bool) {
	rest, ok := strings.CutPrefix(p, "/v2/")
	if !ok {
		return "", "", false
	}
	i := strings.LastIndex(rest, "/manifests/")
	if i <= 0 {
		return "", "", false
	}
	return rest[:i], rest[i+len("/manifests/"):], true
}

type notification struct {
	Events []notificationEvent `json:"events"`
}

type notificationEvent struct {
	ID        string    `json:"id"`
	Timestamp time.Time `json:"timestamp"`
	Action    string    `json:"action"`
	Target    struct {
		MediaType  string `json:"mediaType"`
		Digest     string `json:"digest"`
		Size       int    `json:"size"`
		Length     int    `json:"length"`
		Repository string `json:"repository"`
		URL        string `json:"url"`
		Tag        string `json:"tag,omitempty"`
	} `json:"target"`
	Request struct {
		ID        string `json:"id"`
		Addr      string `json:"addr"`
		Host      string `json:"host"`
		Method    string `json:"method"`
		UserAgent string `json:"useragent"`
	} `json:"request"`
	Actor  struct{} `json:"actor"`
	Source struct {
		Addr       string `json:"addr"`
		InstanceID string `json:"instanceID"`
	} `json:"source"`
}

func (r *Registry) send(req *http.Request, repo, tag, digest, mediaType string, size int) {
	var e notificationEvent
	e.ID = event.NewID()
	e.Timestamp = time.Now().UTC()
	e.Action = "push"
	e.Target.MediaType = mediaType
	e.Target.Digest = digest
	e.Target.Size, e.Target.Length = size, size
	e.Target.Repository = repo
	e.Target.URL = "http://" + req.Host + "/v2/" + repo + "/manifests/" + digest
	e.Target.Tag = tag
	e.Request.ID = event.NewID()
	e.Request.Addr = req.RemoteAddr
	e.Request.Host = req.Host
	e.Request.Method = req.Method
	e.Request.UserAgent = req.UserAgent()
	e.Source.Addr = req.Host
	e.Source.InstanceID = r.id
	body, _ := json.Marshal(notification{Events: []notificationEvent{e}})
	ctx := context.WithoutCancel(req.Context())
	if err := r.notify(ctx, NotificationType, body); err == nil {
		return
	}
	// Like distribution: retry in the background with backoff, in memory.
	go func() {
		for attempt, wait := 1, 200*time.Millisecond; attempt <= 8; attempt, wait = attempt+1, wait*2 {
			time.Sleep(wait)
			err := r.notify(ctx, NotificationType, body)
			if err == nil {
				return
			}
			r.log.Warn("registry notification failed", "repository", repo, "digest", digest, "attempt", attempt, "error", err.Error())
		}
		r.log.Error("registry notification dropped after retries", "repository", repo, "digest", digest)
	}()
}

// HandlerNotifier delivers notifications to an http.Handler in-process (the
// local ingress), with the bearer token a real registry would present.
func HandlerNotifier(h http.Handler, path, token string) Notifier {
	return func(ctx context.Context, contentType string, body []byte) error {
		req := httptest.NewRequestWithContext(ctx, http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 300 {
			return fmt.Errorf("ingress answered %d: %s", rec.Code, strings.TrimSpace(rec.Body.String()))
		}
		return nil
	}
}
