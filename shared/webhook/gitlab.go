package webhook

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"
)

// GitLab's webhook headers.
const (
	// gitlabIdempotencyKey is sent by GitLab 17.4 and later; a retry or
	// a resend of the same event keeps it.
	gitlabIdempotencyKey = "Idempotency-Key"
	// gitlabEventUUID identifies the event; every hook the event fires
	// receives the same one.
	gitlabEventUUID = "X-Gitlab-Event-UUID"
)

// gitlab serves GitLab's project and group webhooks: authenticated by the
// secret token, deduplicated by GitLab's event identity and by the body.
func (in *Ingress) gitlab(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	name := r.Header.Get("X-Gitlab-Event")
	delivery, header := gitlabDelivery(r.Header)
	attrs := []any{"source", "gitlab", "event", name, "delivery_id", truncate(delivery, MaxDeliveryID)}
	body, ok := in.readBody(w, r)
	if !ok {
		return
	}
	if err := in.checkGitLabToken(r.Header.Get("X-Gitlab-Token")); err != nil {
		in.fail(ctx, w, http.StatusUnauthorized, err, attrs...)
		return
	}
	if err := checkDeliveryHeader(header, delivery); err != nil {
		in.fail(ctx, w, http.StatusBadRequest, err, "source", "gitlab", "event", name)
		return
	}
	c, err := ClassifyGitLab(name, body)
	if err != nil {
		in.fail(ctx, w, http.StatusBadRequest, err, attrs...)
		return
	}
	if c.Ignore != "" {
		in.cfg.Logger.InfoContext(ctx, "webhook ignored", append(attrs, "reason", c.Ignore)...)
		reply(w, http.StatusAccepted, Response{Status: "ignored", Reason: c.Ignore, Event: name, DeliveryID: delivery})
		return
	}
	res, err := in.enqueue(ctx, gitlabKeys(r.Header, body), c.Kind, "gitlab", delivery, c.Payload)
	if err != nil {
		in.fail(ctx, w, statusOf(err), err, attrs...)
		return
	}
	code := http.StatusAccepted
	if res.status == "duplicate" {
		code = http.StatusOK
	}
	reply(w, code, Response{Status: res.status, Event: name, DeliveryID: delivery, TraceID: res.TraceID, IDs: []string{res.ID}})
}

// gitlabDelivery returns the delivery id and the header it came from:
// Idempotency-Key, which GitLab keeps across retries and resends, else the
// event's UUID (GitLab before 17.4).
func gitlabDelivery(h http.Header) (id, header string) {
	if v := h.Get(gitlabIdempotencyKey); v != "" {
		return v, gitlabIdempotencyKey
	}
	return h.Get(gitlabEventUUID), gitlabEventUUID
}

// gitlabKeys are the idempotency keys of a GitLab delivery: each identity
// GitLab gave it, and the SHA-256 of the body, so that a resend under a new
// identity (an older GitLab's "Resend request") is the same event too.
func gitlabKeys(h http.Header, body []byte) []string {
	var keys []string
	if v := h.Get(gitlabIdempotencyKey); v != "" {
		keys = append(keys, "gitlab-delivery:"+v)
	}
	if v := h.Get(gitlabEventUUID); v != "" {
		keys = append(keys, "gitlab-event:"+v)
	}
	sum := sha256.Sum256(body)
	return append(keys, "gitlab-body:"+hex.EncodeToString(sum[:]))
}

// checkGitLabToken compares X-Gitlab-Token with the configured secret in
// constant time; with none configured, every request fails.
func (in *Ingress) checkGitLabToken(got string) error {
	switch {
	case in.cfg.GitLabToken == "":
		return errors.New("GitLab webhook token not configured")
	case got == "":
		return errors.New("missing X-Gitlab-Token header")
	case subtle.ConstantTimeCompare([]byte(got), []byte(in.cfg.GitLabToken)) != 1:
		return errors.New("X-Gitlab-Token does not match")
	}
	return nil
}
