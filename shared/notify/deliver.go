package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/consume"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/retry"
	"github.com/conveyor-gitops/conveyor/shared/state"
)

// Headers of a signed webhook delivery.
const (
	// HeaderSignature is "sha256=" and the hex HMAC-SHA256 of the raw
	// body keyed with the receiver's secret, as GitHub signs.
	HeaderSignature = "X-Conveyor-Signature-256"
	HeaderEvent     = "X-Conveyor-Event"
	// HeaderDelivery is the delivery's key: the same on every retry.
	HeaderDelivery = "X-Conveyor-Delivery"
	HeaderTraceID  = "X-Conveyor-Trace-Id"
)

// Deliverer is the notifications queue's consumer: it posts each Delivery
// once to its target.
type Deliverer struct {
	Idem state.Idempotency
	// Client posts; one with a 10-second timeout when nil.
	Client *http.Client
	// Lookup reads the environment variables targets name (os.LookupEnv
	// when nil).
	Lookup func(string) (string, bool)
	// Secret, when set, reads the values targets name (secretEnv,
	// slackEnv) instead of Lookup: on AWS, from Secrets Manager. It
	// returns ErrSecretUnset when it holds no such value; other errors are
	// retried.
	Secret func(ctx context.Context, name string) (string, error)
	// Comments comments on pull requests (the forge); PR-comment
	// deliveries fail permanently without it.
	Comments forge.Commenter
	Log      *slog.Logger
}

// Retention is how long a delivered notification's record keeps a
// redelivery from posting again.
const Retention = 7 * 24 * time.Hour

const lease = time.Minute

// ErrSecretUnset means the secrets hold no value of the name a target
// gives.
var ErrSecretUnset = errors.New("not set")

// ErrInFlight means another consumer is posting the same delivery now.
var ErrInFlight = errors.New("delivery in progress elsewhere")

// Func returns the notifications queue's message function.
func (d *Deliverer) Func() consume.Func {
	return func(ctx context.Context, env *event.Envelope) error {
		if err := consume.Expect(env, event.KindNotification); err != nil {
			return err
		}
		var dl Delivery
		if err := env.DecodePayload(&dl); err != nil {
			return retry.Permanent(err)
		}
		return d.Deliver(ctx, dl)
	}
}

// Deliver posts dl to its target unless it was delivered before.
func (d *Deliverer) Deliver(ctx context.Context, dl Delivery) error {
	key := dl.Key()
	rec, claimed, err := d.Idem.Claim(ctx, key, lease)
	switch {
	case err != nil:
		return fmt.Errorf("claiming %s: %w", key, err)
	case !claimed && rec.Status == state.Completed:
		return nil
	case !claimed:
		return retry.After(fmt.Errorf("%w: %s", ErrInFlight, key), time.Until(rec.ExpiresAt))
	}
	if err := d.post(ctx, dl); err != nil {
		// A retry must be able to claim it at once.
		_ = d.Idem.Release(ctx, key)
		return fmt.Errorf("notifying %s of %s: %w", dl.Target, dl.Event.Event, err)
	}
	if err := d.Idem.Complete(ctx, key, nil, Retention); err != nil {
		return fmt.Errorf("recording delivery %s: %w", key, err)
	}
	d.logger().InfoContext(ctx, "notification delivered", "event", dl.Event.Event, "key", dl.Event.Key, "target", dl.Target.String())
	return nil
}

func (d *Deliverer) logger() *slog.Logger {
	if d.Log != nil {
		return d.Log
	}
	return slog.Default()
}

// value reads the secret a target names: an unset one is permanent, a
// failure to read is retried. Neither error holds the value.
func (d *Deliverer) value(ctx context.Context, name string) (string, error) {
	if d.Secret != nil {
		v, err := d.Secret(ctx, name)
		switch {
		case errors.Is(err, ErrSecretUnset) || (err == nil && v == ""):
			return "", retry.Permanent(fmt.Errorf("%s is not in the notification secrets", name))
		case err != nil:
			return "", fmt.Errorf("reading %s: %w", name, err)
		}
		return v, nil
	}
	lookup := d.Lookup
	if lookup == nil {
		lookup = os.LookupEnv
	}
	v, ok := lookup(name)
	if !ok || v == "" {
		return "", retry.Permanent(fmt.Errorf("$%s is not set", name))
	}
	return v, nil
}

func (d *Deliverer) post(ctx context.Context, dl Delivery) error {
	var (
		to     string
		body   []byte
		header = http.Header{"Content-Type": {"application/json"}, "User-Agent": {"Conveyor"}}
		err    error
	)
	switch t := dl.Target; {
	case t.PRComment:
		if d.Comments == nil {
			return retry.Permanent(errors.New("this runtime has no forge to comment with"))
		}
		return d.Comments.Comment(ctx, dl.Event.PR, dl.Event.Markdown())
	case t.SlackEnv != "":
		var u string
		if u, err = d.value(ctx, t.SlackEnv); err != nil {
			return err
		}
		if !overTLS(u) {
			return retry.Permanent(fmt.Errorf("$%s is not an https URL: the URL is a credential", t.SlackEnv))
		}
		to = u
		body, err = slackBody(dl.Event)
	case t.Webhook != "":
		var secret string
		if secret, err = d.value(ctx, t.SecretEnv); err != nil {
			return fmt.Errorf("the signing key: %w", err)
		}
		to = t.Webhook
		if body, err = json.Marshal(dl.Event); err == nil {
			header.Set(HeaderSignature, Sign([]byte(secret), body))
			header.Set(HeaderEvent, dl.Event.Event)
			header.Set(HeaderDelivery, dl.Key())
			header.Set(HeaderTraceID, dl.Event.TraceID)
		}
	default:
		return retry.Permanent(errors.New("the delivery names no target"))
	}
	if err != nil {
		return retry.Permanent(fmt.Errorf("encoding: %w", err))
	}
	return d.do(ctx, to, header, body)
}

// do posts body and classifies the answer: 2xx done; 408, 429 and 5xx
// (and transport failures) retried, after Retry-After when given; other
// statuses permanent. No error names the URL, which may be a credential.
func (d *Deliverer) do(ctx context.Context, to string, header http.Header, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, to, bytes.NewReader(body))
	if err != nil {
		return retry.Permanent(errors.New("the target URL does not parse"))
	}
	req.Header = header
	client := d.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("posting: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusTooManyRequests || code == http.StatusRequestTimeout || code >= 500:
		err := fmt.Errorf("the receiver answered %s", resp.Status)
		if s, perr := strconv.Atoi(resp.Header.Get("Retry-After")); perr == nil && s > 0 {
			return retry.After(err, time.Duration(s)*time.Second)
		}
		return err
	default:
		return retry.Permanent(fmt.Errorf("the receiver answered %s", resp.Status))
	}
}

// overTLS reports whether raw is https, or http to a loopback host (a
// receiver in the same machine, as in tests).
func overTLS(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	if u.Scheme == "https" {
		return true
	}
	ip := net.ParseIP(u.Hostname())
	return u.Scheme == "http" && (u.Hostname() == "localhost" || ip != nil && ip.IsLoopback())
}

// Sign returns the signature header value of body under secret.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether sig is body's signature under secret, in
// constant time: for receivers written in Go.
func Verify(secret, body []byte, sig string) bool {
	return hmac.Equal([]byte(sig), []byte(Sign(secret, body)))
}

// slackBody is an incoming-webhook message: text for notifications and
// clients without blocks, and the same in a section block with the trace
// id in a context block.
func slackBody(e Event) ([]byte, error) {
	type text struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	type block struct {
		Type     string `json:"type"`
		Text     *text  `json:"text,omitempty"`
		Elements []text `json:"elements,omitempty"`
	}
	summary := e.Summary()
	return json.Marshal(struct {
		Text   string  `json:"text"`
		Blocks []block `json:"blocks"`
	}{summary, []block{
		{Type: "section", Text: &text{"mrkdwn", summary}},
		{Type: "context", Elements: []text{{"mrkdwn", "event `" + e.Event + "` · trace `" + e.TraceID + "`"}}},
	}})
}
