package replay

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/queue"
)

// Record is one dead-lettered message as an operator sees it.
type Record struct {
	// ID is the message id: the embedded queue's id, or on SQS the id of
	// the message that was dead-lettered.
	ID string `json:"id"`
	// Queue is the work queue the message failed in.
	Queue        string `json:"queue"`
	Kind         string `json:"kind,omitempty"`
	App          string `json:"app,omitempty"`
	TraceID      string `json:"trace_id,omitempty"`
	ReceiveCount int    `json:"receive_count"`
	Reason       string `json:"reason"`
	// FirstError is the first failed attempt's reason, when it differs.
	FirstError string    `json:"first_error,omitempty"`
	SentAt     time.Time `json:"sent_at,omitzero"`
	// DeadAt is when the message was dead-lettered. On SQS it is when the
	// dead-letter copy was sent, or the original send time for a message
	// SQS moved itself.
	DeadAt     time.Time         `json:"dead_at,omitzero"`
	Attributes map[string]string `json:"attributes,omitempty"`
	// Body is the message body as it sits in the dead-letter queue.
	Body []byte `json:"-"`
	// BodySize is set when Body is only the start of the body (a record
	// keeps at most state.MaxDeadLetterBody bytes): the whole length.
	BodySize int `json:"body_size,omitempty"`
	// Envelope is the decoded body, nil when the body is not an envelope
	// (an EventBridge ECR event, a malformed message).
	Envelope *event.Envelope `json:"envelope,omitempty"`
	// History lists earlier dead-letterings that were redriven, when the
	// adapter records them (the embedded one does, in Embedded.Get).
	History []Attempt `json:"history,omitempty"`

	// handle is the adapter's hold on the message: an SQS receipt handle.
	handle string
	group  string
	dedupe string
}

// Attempt is one earlier dead-lettering of a message, since redriven.
type Attempt struct {
	Reason       string    `json:"reason"`
	ReceiveCount int       `json:"receive_count"`
	DeadAt       time.Time `json:"dead_at"`
	RedrivenAt   time.Time `json:"redriven_at"`
}

// newRecord fills the fields an operator filters on from the attributes
// first (set on every message Conveyor sends) and the envelope second.
func newRecord(id, source string, body []byte, attrs map[string]string) Record {
	r := Record{ID: id, Queue: source, Body: body, Attributes: attrs,
		Kind: attrs[queue.AttrKind], App: attrs[queue.AttrApp], TraceID: attrs[queue.AttrTraceID]}
	env, err := event.Decode(body)
	if err != nil {
		return r
	}
	r.Envelope = env
	if r.Kind == "" {
		r.Kind = string(env.Kind)
	}
	if r.TraceID == "" {
		r.TraceID = env.TraceID
	}
	if r.App == "" {
		// Promotions name their app in the payload; other kinds have none.
		var p struct {
			App string `json:"app"`
		}
		if json.Unmarshal(env.Payload, &p) == nil {
			r.App = p.App
		}
	}
	return r
}

// Filter selects dead-lettered messages. Zero fields match everything.
type Filter struct {
	// Queue is the work queue, e.g. "promotions".
	Queue string `json:"queue,omitempty"`
	Kind  string `json:"kind,omitempty"`
	App   string `json:"app,omitempty"`
	// Since keeps messages dead-lettered at or after it.
	Since time.Time `json:"since,omitzero"`
	// Error is a case-insensitive substring of the reason.
	Error string `json:"error,omitempty"`
	// IDs are message ids or envelope ids.
	IDs []string `json:"ids,omitempty"`
}

// Match reports whether r passes every set field of f.
func (f Filter) Match(r Record) bool {
	switch {
	case f.Queue != "" && r.Queue != f.Queue,
		f.Kind != "" && !strings.EqualFold(r.Kind, f.Kind),
		f.App != "" && r.App != f.App,
		!f.Since.IsZero() && r.DeadAt.Before(f.Since),
		f.Error != "" && !strings.Contains(strings.ToLower(r.Reason), strings.ToLower(f.Error)):
		return false
	}
	if len(f.IDs) > 0 {
		return slices.Contains(f.IDs, r.ID) || (r.Envelope != nil && slices.Contains(f.IDs, r.Envelope.ID))
	}
	return true
}

// wholeQueue reports whether f selects a whole queue's dead letters.
func (f Filter) wholeQueue() bool {
	return f.Queue != "" && f.Kind == "" && f.App == "" && f.Since.IsZero() && f.Error == "" && len(f.IDs) == 0
}

// Bump returns body with the envelope's Replayed counter incremented, its
// ID and TraceID unchanged. A body that is not an envelope is returned as
// it is: there is no counter to bump.
func Bump(body []byte) ([]byte, error) {
	env, err := event.Decode(body)
	if err != nil {
		return body, nil
	}
	env.Replayed++
	return env.Encode()
}
