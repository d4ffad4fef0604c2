package config

import (
	"net/url"
	"strings"
)

// Notify is one receiver of an app's or environment's notifications:
// exactly one of Webhook, SlackEnv or PRComment.
type Notify struct {
	Pos Pos
	// Webhook is a URL that receives each event as signed JSON (https,
	// or http to a loopback host).
	Webhook string
	// SecretEnv names the environment variable holding the webhook's
	// HMAC key: the secret itself never appears in conveyor.yaml.
	SecretEnv string
	// SlackEnv names the environment variable holding a Slack incoming
	// webhook URL, which is a credential in itself.
	SlackEnv string
	// PRComment comments on the promotion pull request (for the events
	// that have one: opened, updated, waiting, merged).
	PRComment bool
	// Events limits the receiver to these events (NotifyEvents); empty
	// means all of them.
	Events []string
}

// The events a receiver can be notified of.
const (
	NotifyOpened       = "opened"        // a promotion pull request opened
	NotifyUpdated      = "updated"       // the open pull request now proposes a newer image
	NotifyWaiting      = "waiting"       // a manual release waits for its reviewers
	NotifyMerged       = "merged"        // the pull request merged: released
	NotifyDeferred     = "deferred"      // a freeze window holds the promotion
	NotifyRefused      = "refused"       // the promotion was refused (policy, platform, render check)
	NotifyDeadLettered = "dead_lettered" // a message went to a dead-letter queue
)

// NotifyEvents lists every notification event, in pipeline order.
var NotifyEvents = []string{NotifyOpened, NotifyUpdated, NotifyWaiting, NotifyMerged, NotifyDeferred, NotifyRefused, NotifyDeadLettered}

// Wants reports whether the receiver takes event.
func (n *Notify) Wants(event string) bool {
	return len(n.Events) == 0 || contains(n.Events, event)
}

// Receivers returns the receivers of env of app a: the app's, then the
// environment's own. env may be nil for events of the app alone.
func (a *App) Receivers(env *Environment) []Notify {
	out := append([]Notify(nil), a.Notify...)
	if env != nil {
		out = append(out, env.Notify...)
	}
	return out
}

var notifyKeys = []string{"webhook", "secretEnv", "slackEnv", "prComment", "events"}

func (d *decoder) notifyList(v value) []Notify {
	var out []Notify
	for _, nv := range d.list(v) {
		var n Notify
		if f, ok := d.item(nv, notifyKeys); ok {
			n.Webhook = d.str(f.get("webhook"))
			n.SecretEnv = d.str(f.get("secretEnv"))
			n.SlackEnv = d.str(f.get("slackEnv"))
			n.PRComment = d.boolean(f.get("prComment"))
			n.Events = d.strings(f.get("events"))
		}
		n.Pos = d.pos(nv)
		out = append(out, n)
	}
	return out
}

func validateNotify(list []Notify, p string, r *reporter) {
	for i := range list {
		n := &list[i]
		np := index(p, i)
		kinds := 0
		for _, set := range []bool{n.Webhook != "", n.SlackEnv != "", n.PRComment} {
			if set {
				kinds++
			}
		}
		if kinds != 1 {
			r.errorf(np, "set exactly one of webhook, slackEnv or prComment")
		}
		if n.Webhook != "" {
			if msg := checkNotifyURL(n.Webhook); msg != "" {
				r.errorf(np+".webhook", "%s", msg)
			}
			if n.SecretEnv == "" {
				r.errorf(np, "a webhook needs secretEnv: the name of the environment variable holding its signing key")
			}
		} else if n.SecretEnv != "" {
			r.errorf(np+".secretEnv", "only allowed with webhook")
		}
		for _, f := range []struct{ field, v string }{{"secretEnv", n.SecretEnv}, {"slackEnv", n.SlackEnv}} {
			if f.v != "" && !envName.MatchString(f.v) {
				// Never echo the value: it may be the secret pasted inline.
				r.errorf(np+"."+f.field, "must name an environment variable (letters, digits, _), not hold the secret itself")
			}
		}
		for j, e := range n.Events {
			if !contains(NotifyEvents, e) {
				r.errorf(index(np+".events", j), "unknown event %q: must be one of %s", e, strings.Join(NotifyEvents, ", "))
			}
		}
	}
}

// checkNotifyURL accepts https, and http only to a loopback host, so that
// signed payloads travel over TLS.
func checkNotifyURL(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "":
		return "must be an absolute https URL"
	case u.User != nil:
		return "must not carry credentials: the signature authenticates"
	case u.Scheme == "https":
		return ""
	case u.Scheme == "http" && loopback(raw):
		return ""
	}
	return "must be https (http only to a loopback host)"
}
