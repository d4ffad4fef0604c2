package webhook

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/logging"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/state"
)

// Paths the ingress serves.
const (
	// PathPrefix is the prefix of every webhook path.
	PathPrefix       = "/webhooks/"
	PathGitHub       = "/webhooks/github"
	PathGitLab       = "/webhooks/gitlab"
	PathDistribution = "/webhooks/registry/distribution"
	PathHarbor       = "/webhooks/registry/harbor"
	PathHealth       = "/healthz"
)

// DefaultMaxBody is the default body limit. GitHub caps payloads at 25 MB,
// but Conveyor needs only a push's metadata.
const DefaultMaxBody = 1 << 20

// Sender is the part of a queue the ingress uses.
type Sender interface {
	Send(ctx context.Context, in queue.SendInput) (string, error)
}

// Queues are where accepted events go.
type Queues struct {
	Builds    Sender // push
	Images    Sender // registry manifest pushes
	Approvals Sender // pull requests and reviews
}

// Config holds the ingress's secrets and limits.
type Config struct {
	// GitHubSecret verifies X-Hub-Signature-256. Without it every GitHub
	// request is refused with 401.
	GitHubSecret []byte
	// GitLabToken is the secret token GitLab sends in X-Gitlab-Token.
	// Without it every GitLab request is refused with 401.
	GitLabToken string
	// RegistryToken is the bearer token registries must present. Without
	// it every registry request is refused with 401.
	RegistryToken string
	// MaxBody bounds a request body (default DefaultMaxBody).
	MaxBody int64
	// DedupeRetention is how long a delivery id and a signed body's hash
	// are remembered (default 7 days; GitHub allows manual redelivery for
	// 3).
	DedupeRetention time.Duration
	// Committer, when set, enqueues each event and records its keys in
	// one durable step (see Committer), in place of claiming each key,
	// sending through Queues and completing each key.
	Committer Committer
	Logger    *slog.Logger
	Now       func() time.Time
}

// Ingress is the webhook http.Handler.
type Ingress struct {
	cfg    Config
	queues Queues
	idem   state.Idempotency
	mux    *http.ServeMux
}

// New returns the ingress. Every queue and the idempotency store are required.
func New(cfg Config, queues Queues, idem state.Idempotency) (*Ingress, error) {
	if queues.Builds == nil || queues.Images == nil || queues.Approvals == nil || idem == nil {
		return nil, errors.New("webhook ingress needs the builds, images and approvals queues and an idempotency store")
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.DedupeRetention <= 0 {
		cfg.DedupeRetention = 7 * 24 * time.Hour
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	in := &Ingress{cfg: cfg, queues: queues, idem: idem, mux: http.NewServeMux()}
	in.mux.HandleFunc("POST "+PathGitHub, in.github)
	in.mux.HandleFunc("POST "+PathGitLab, in.gitlab)
	in.mux.HandleFunc("POST "+PathDistribution, in.registry("distribution", ParseDistribution))
	in.mux.HandleFunc("POST "+PathHarbor, in.registry("harbor", ParseHarbor))
	in.mux.HandleFunc("GET "+PathHealth, func(w http.ResponseWriter, r *http.Request) {
		reply(w, http.StatusOK, Response{Status: "ok"})
	})
	return in, nil
}

// ServeHTTP implements http.Handler.
func (in *Ingress) ServeHTTP(w http.ResponseWriter, r *http.Request) { in.mux.ServeHTTP(w, r) }

// Response is the JSON body of every answer.
type Response struct {
	// Status is accepted, duplicate, ignored, pong, ok or error.
	Status     string   `json:"status"`
	Error      string   `json:"error,omitempty"`
	Reason     string   `json:"reason,omitempty"`
	Event      string   `json:"event,omitempty"`
	DeliveryID string   `json:"delivery_id,omitempty"`
	TraceID    string   `json:"trace_id,omitempty"`
	IDs        []string `json:"ids,omitempty"`
	Accepted   int      `json:"accepted,omitempty"`
	Duplicates int      `json:"duplicates,omitempty"`
	Ignored    int      `json:"ignored,omitempty"`
}

func reply(w http.ResponseWriter, code int, resp Response) {
	w.Header().Set("Content-Type", "application/json")
	if resp.TraceID != "" {
		w.Header().Set("X-Conveyor-Trace-Id", resp.TraceID)
	}
	if code == http.StatusServiceUnavailable || code == http.StatusConflict {
		w.Header().Set("Retry-After", "5")
	}
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(resp)
}

func (in *Ingress) fail(ctx context.Context, w http.ResponseWriter, code int, err error, attrs ...any) {
	in.cfg.Logger.WarnContext(ctx, "webhook rejected", append(attrs, "code", code, "error", err.Error())...)
	reply(w, code, Response{Status: "error", Error: err.Error()})
}

// readBody reads at most MaxBody bytes, answering 413 past that.
func (in *Ingress) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if r.ContentLength > in.cfg.MaxBody {
		in.fail(r.Context(), w, http.StatusRequestEntityTooLarge,
			fmt.Errorf("body of %d bytes exceeds the %d-byte limit", r.ContentLength, in.cfg.MaxBody))
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, in.cfg.MaxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		in.fail(r.Context(), w, http.StatusRequestEntityTooLarge, fmt.Errorf("body exceeds the %d-byte limit", in.cfg.MaxBody))
		return nil, false
	case err != nil:
		in.fail(r.Context(), w, http.StatusBadRequest, fmt.Errorf("reading body: %w", err))
		return nil, false
	}
	return body, true
}

func (in *Ingress) github(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	h := readForgeHeaders(r.Header)
	name, delivery := h.event, h.delivery
	attrs := []any{"source", h.source(), "event", name, "delivery_id", truncate(delivery, MaxDeliveryID)}
	body, ok := in.readBody(w, r)
	if !ok {
		return
	}
	// The signature covers the raw body, whatever its encoding.
	if err := VerifySignature(in.cfg.GitHubSecret, h.signature, body); err != nil {
		in.fail(ctx, w, http.StatusUnauthorized, err, attrs...)
		return
	}
	raw := body
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/x-www-form-urlencoded" {
		form, err := url.ParseQuery(string(body))
		if err != nil || form.Get("payload") == "" {
			in.fail(ctx, w, http.StatusBadRequest, fmt.Errorf("%w: form body without a payload field", ErrMalformed), attrs...)
			return
		}
		body = []byte(form.Get("payload"))
	}
	if err := checkDelivery(delivery); err != nil {
		in.fail(ctx, w, http.StatusBadRequest, err, "source", h.source(), "event", name)
		return
	}
	classify := ClassifyGitHub
	if h.gitea {
		classify = ClassifyGitea
	}
	c, err := classify(name, body)
	if err != nil {
		in.fail(ctx, w, http.StatusBadRequest, err, attrs...)
		return
	}
	switch {
	case c.Pong:
		reply(w, http.StatusOK, Response{Status: "pong", Event: name, DeliveryID: delivery})
		return
	case c.Ignore != "":
		in.cfg.Logger.InfoContext(ctx, "webhook ignored", append(attrs, "reason", c.Ignore)...)
		reply(w, http.StatusAccepted, Response{Status: "ignored", Reason: c.Ignore, Event: name, DeliveryID: delivery})
		return
	}
	res, err := in.enqueue(ctx, githubKeys(delivery, raw), c.Kind, h.source(), delivery, c.Payload)
	if err != nil {
		in.fail(ctx, w, statusOf(err), err, attrs...)
		return
	}
	resp := Response{Status: res.status, Event: name, DeliveryID: delivery, TraceID: res.TraceID, IDs: []string{res.ID}}
	code := http.StatusAccepted
	if res.status == "duplicate" {
		code = http.StatusOK
	}
	reply(w, code, resp)
}

// forgeHeaders are what a forge delivery says about itself.
type forgeHeaders struct {
	event, delivery, signature string
	// gitea is set for Gitea, Forgejo and Gogs, whose pushes list fewer
	// commits than GitHub's.
	gitea bool
}

func (h forgeHeaders) source() string {
	if h.gitea {
		return "gitea"
	}
	return "github"
}

// readForgeHeaders reads GitHub's headers, falling back to Gitea's and
// Forgejo's own: Gitea sends both sets, but a proxy or a Forgejo may pass
// only its own. X-Gitea-Signature is the bare hex HMAC-SHA256 that
// X-Hub-Signature-256 carries after "sha256=".
func readForgeHeaders(hd http.Header) forgeHeaders {
	get := func(names ...string) string {
		for _, n := range names {
			if v := hd.Get(n); v != "" {
				return v
			}
		}
		return ""
	}
	h := forgeHeaders{
		event:     get("X-GitHub-Event", "X-Gitea-Event", "X-Forgejo-Event", "X-Gogs-Event"),
		delivery:  get("X-GitHub-Delivery", "X-Gitea-Delivery", "X-Forgejo-Delivery", "X-Gogs-Delivery"),
		signature: hd.Get("X-Hub-Signature-256"),
		gitea:     get("X-Gitea-Event", "X-Forgejo-Event", "X-Gogs-Event") != "",
	}
	if h.signature == "" {
		if sig := get("X-Gitea-Signature", "X-Forgejo-Signature", "X-Gogs-Signature"); sig != "" {
			h.signature = "sha256=" + sig
		}
	}
	return h
}

// githubKeys are the idempotency keys of a GitHub delivery: its delivery id,
// which a redelivery keeps, and the SHA-256 of the signed raw body, because
// the delivery id is not signed: a captured body resent under a new id (or
// Gitea's redeliver, which mints a new id) is the same event.
func githubKeys(delivery string, raw []byte) []string {
	sum := sha256.Sum256(raw)
	return []string{"github-delivery:" + delivery, "github-body:" + hex.EncodeToString(sum[:])}
}

func (in *Ingress) registry(source string, parse func([]byte) ([]ImageEvent, int, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		attrs := []any{"source", source}
		body, ok := in.readBody(w, r)
		if !ok {
			return
		}
		if err := in.checkBearer(r.Header.Get("Authorization")); err != nil {
			in.fail(ctx, w, http.StatusUnauthorized, err, attrs...)
			return
		}
		evs, ignored, err := parse(body)
		if err != nil {
			in.fail(ctx, w, http.StatusBadRequest, err, attrs...)
			return
		}
		resp := Response{Status: "accepted", Event: source, Ignored: ignored}
		for _, e := range evs {
			res, err := in.enqueue(ctx, []string{e.Key}, event.KindImage, source, e.Key, e.Image)
			if err != nil {
				// Events already enqueued stay enqueued and deduplicated:
				// the registry's retry only re-sends the rest.
				in.fail(ctx, w, statusOf(err), err, append(attrs, "key", e.Key)...)
				return
			}
			if res.status == "duplicate" {
				resp.Duplicates++
			} else {
				resp.Accepted++
			}
			resp.IDs = append(resp.IDs, res.ID)
			resp.TraceID = res.TraceID
		}
		code := http.StatusAccepted
		switch {
		case len(evs) == 0:
			resp.Status, resp.Reason = "ignored", "no manifest push in the notification"
			in.cfg.Logger.InfoContext(ctx, "webhook ignored", append(attrs, "ignored", ignored)...)
		case resp.Accepted == 0:
			resp.Status, code = "duplicate", http.StatusOK
		}
		if len(evs) > 1 {
			resp.TraceID = ""
		}
		reply(w, code, resp)
	}
}

func (in *Ingress) checkBearer(header string) error {
	if in.cfg.RegistryToken == "" {
		return errors.New("registry webhook token not configured")
	}
	if header == "" {
		return errors.New("missing Authorization header")
	}
	// Harbor sends the configured header value verbatim, with or without
	// the scheme.
	tok := header
	if scheme, rest, ok := strings.Cut(header, " "); ok && strings.EqualFold(scheme, "Bearer") {
		tok = rest
	}
	if subtle.ConstantTimeCompare([]byte(tok), []byte(in.cfg.RegistryToken)) != 1 {
		return errors.New("registry webhook token does not match")
	}
	return nil
}

var errUnavailable = errors.New("queue unavailable")

func statusOf(err error) int {
	switch {
	case errors.Is(err, ErrInProgress):
		return http.StatusConflict
	case errors.Is(err, event.ErrTooLarge):
		// The same event is as large on every retry.
		return http.StatusRequestEntityTooLarge
	default:
		return http.StatusServiceUnavailable
	}
}

// enqueued is one enqueue's outcome; ID and TraceID are also the result
// remembered for duplicates.
type enqueued struct {
	status  string
	ID      string `json:"id"`
	TraceID string `json:"trace_id"`
}

// enqueue sends one envelope unless one of keys was already enqueued,
// through the Committer when there is one. Otherwise every key is claimed
// before the send and released if it fails, so a redelivery can succeed; a
// crash between claim and send leaves claims that expire within the lease.
func (in *Ingress) enqueue(ctx context.Context, keys []string, kind event.Kind, source, delivery string, payload any) (enqueued, error) {
	if in.cfg.Committer != nil {
		return in.commit(ctx, keys, kind, source, delivery, payload)
	}
	if prev, done, err := in.claim(ctx, keys); err != nil || done {
		return prev, err
	}
	env, msg, err := in.message(kind, source, delivery, payload)
	if err == nil {
		if _, err = in.queues.sender(kind).Send(ctx, msg); err != nil {
			err = fmt.Errorf("%w: %v", errUnavailable, err)
		}
	}
	if err != nil {
		in.release(ctx, keys)
		return enqueued{}, err
	}
	res := enqueued{status: "accepted", ID: env.ID, TraceID: env.TraceID}
	in.complete(ctx, keys, res)
	in.cfg.Logger.InfoContext(logging.WithTrace(ctx, env.TraceID), "webhook accepted",
		"source", source, "kind", string(kind), "delivery_id", delivery, "envelope_id", env.ID)
	return res, nil
}

// claim claims keys in order. It returns done when one is already
// completed: the request duplicates what that key recorded, and the keys
// claimed before it are completed with the same result, so a replay's own
// delivery id answers duplicate too. A key still in progress, or a store
// failure, releases the keys claimed so far.
func (in *Ingress) claim(ctx context.Context, keys []string) (prev enqueued, done bool, err error) {
	for i, key := range keys {
		rec, claimed, err := in.idem.Claim(ctx, key, 30*time.Second)
		switch {
		case err != nil:
			in.release(ctx, keys[:i])
			return enqueued{}, false, fmt.Errorf("%w: %v", errUnavailable, err)
		case claimed:
			continue
		case rec.Status == state.Completed:
			_ = json.Unmarshal(rec.Result, &prev)
			in.complete(ctx, keys[:i], prev)
			prev.status = "duplicate"
			return prev, true, nil
		default:
			in.release(ctx, keys[:i])
			return enqueued{}, false, ErrInProgress
		}
	}
	return enqueued{}, false, nil
}

// release forgets claims so a redelivery can claim them at once.
func (in *Ingress) release(ctx context.Context, keys []string) {
	for _, key := range keys {
		if err := in.idem.Release(context.WithoutCancel(ctx), key); err != nil {
			in.cfg.Logger.ErrorContext(ctx, "releasing delivery claim", "key", key, "error", err.Error())
		}
	}
}

// complete records keys as enqueued with res, replayed to duplicates.
func (in *Ingress) complete(ctx context.Context, keys []string, res enqueued) {
	result, _ := json.Marshal(res)
	for _, key := range keys {
		if err := in.idem.Complete(context.WithoutCancel(ctx), key, result, in.cfg.DedupeRetention); err != nil {
			// The event is safely queued; at worst a redelivery after the
			// claim's lease is queued again, and consumers are idempotent.
			in.cfg.Logger.ErrorContext(ctx, "recording delivery", "key", key, "error", err.Error())
		}
	}
}

// MaxDeliveryID bounds a delivery id: GitHub's are 36-character GUIDs,
// Gitea's and GitLab's shorter still; a longer one is not a delivery id.
const MaxDeliveryID = 256

// checkDelivery refuses, as the sender's mistake, a missing delivery id
// and one no forge would send: it becomes idempotency keys, log fields and
// part of the queued envelope.
func checkDelivery(id string) error { return checkDeliveryHeader("X-GitHub-Delivery", id) }

// checkDeliveryHeader is checkDelivery for the delivery id header named
// header.
func checkDeliveryHeader(header, id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: missing %s header", ErrMalformed, header)
	case len(id) > MaxDeliveryID:
		return fmt.Errorf("%w: %s is %d bytes, more than %d", ErrMalformed, header, len(id), MaxDeliveryID)
	}
	for _, c := range []byte(id) {
		if c < 0x21 || c > 0x7e {
			return fmt.Errorf("%w: %s holds a byte 0x%02x that is not printable ASCII", ErrMalformed, header, c)
		}
	}
	return nil
}
