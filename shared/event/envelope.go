package event

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Version is the envelope version this code writes and understands.
const Version = 1

// MaxSize is the largest encoded envelope Conveyor sends. SQS accepts up to
// 256 KiB by default; staying well under it leaves room for attributes.
const MaxSize = 64 << 10

// Kind names what an envelope's payload is.
type Kind string

// The kinds of envelope. Each has a payload type of the same name.
const (
	KindPush      Kind = "push"      // a commit pushed to a source repository → builds queue
	KindImage     Kind = "image"     // a manifest pushed to a registry → images queue
	KindPromotion Kind = "promotion" // promote a digest into one environment → promotions queue
	KindReview    Kind = "review"    // a pull request changed or was reviewed → approvals queue
	// KindNotification is one notification for one receiver →
	// notifications queue.
	KindNotification Kind = "notification"
)

// Known reports whether k is one of the kinds this version defines.
func (k Kind) Known() bool {
	switch k {
	case KindPush, KindImage, KindPromotion, KindReview, KindNotification:
		return true
	}
	return false
}

// Envelope is the versioned JSON document carried by every queue message.
type Envelope struct {
	Version int    `json:"version"`
	ID      string `json:"id"`
	Kind    Kind   `json:"kind"`
	// Source says who produced the event: "github", "distribution",
	// "harbor", "ecr", "conveyor" (Conveyor itself), "local-forge".
	Source string `json:"source"`
	// DeliveryID is the producer's own identity for the delivery
	// (X-GitHub-Delivery, a registry event id). It survives redelivery.
	DeliveryID string `json:"delivery_id,omitempty"`
	// TraceID follows one change from the webhook through every queue hop.
	TraceID    string          `json:"trace_id"`
	ReceivedAt time.Time       `json:"received_at"`
	Replayed   int             `json:"replayed,omitempty"`
	Payload    json.RawMessage `json:"payload"`
}

// ErrMalformed is returned for a message that is not a valid envelope.
var ErrMalformed = errors.New("malformed envelope")

// ErrTooLarge is returned by Encode for an envelope past MaxSize: the same
// event is as large on every retry.
var ErrTooLarge = errors.New("envelope too large")

// New builds an envelope of the given kind around payload. The id is random;
// the trace id is inherited when given, otherwise fresh.
func New(kind Kind, source, deliveryID, traceID string, payload any, now time.Time) (*Envelope, error) {
	raw, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("encoding %s payload: %w", kind, err)
	}
	if traceID == "" {
		traceID = NewID()
	}
	return &Envelope{
		Version:    Version,
		ID:         NewID(),
		Kind:       kind,
		Source:     source,
		DeliveryID: deliveryID,
		TraceID:    traceID,
		ReceivedAt: now.UTC(),
		Payload:    raw,
	}, nil
}

// Encode returns the envelope's JSON, refusing one larger than MaxSize.
func (e *Envelope) Encode() ([]byte, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encoding envelope %s: %w", e.ID, err)
	}
	if len(b) > MaxSize {
		return nil, fmt.Errorf("encoding envelope %s: %w: %d bytes exceeds the %d-byte limit", e.ID, ErrTooLarge, len(b), MaxSize)
	}
	return b, nil
}

// Decode parses and checks an envelope. Every failure wraps ErrMalformed, so
// a consumer can send such a message straight to the dead-letter queue.
func Decode(b []byte) (*Envelope, error) {
	var e Envelope
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	switch {
	case e.Version != Version:
		return nil, fmt.Errorf("%w: version %d, want %d", ErrMalformed, e.Version, Version)
	case e.ID == "":
		return nil, fmt.Errorf("%w: missing id", ErrMalformed)
	case !e.Kind.Known():
		return nil, fmt.Errorf("%w: unknown kind %q", ErrMalformed, e.Kind)
	case len(e.Payload) == 0 || string(e.Payload) == "null":
		return nil, fmt.Errorf("%w: missing payload", ErrMalformed)
	}
	return &e, nil
}

// DecodePayload unmarshals the payload into v, which must match the kind.
func (e *Envelope) DecodePayload(v any) error {
	if err := json.Unmarshal(e.Payload, v); err != nil {
		return fmt.Errorf("%w: %s payload: %v", ErrMalformed, e.Kind, err)
	}
	return nil
}

// NewID returns a random 128-bit identifier in hex.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}
