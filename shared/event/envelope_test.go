package event_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/google/go-cmp/cmp"
)

// TestSamples decodes every envelope sample in events/ strictly and checks
// that encoding it again gives the same JSON: the samples are the contract
// that the README documents and that `sam local invoke` uses.
func TestSamples(t *testing.T) {
	payloads := map[event.Kind]func() any{
		event.KindPush:      func() any { return &event.Push{} },
		event.KindImage:     func() any { return &event.Image{} },
		event.KindPromotion: func() any { return &event.Promotion{} },
		event.KindReview:    func() any { return &event.Review{} },
	}
	files, _ := filepath.Glob("../../events/envelope-*.json")
	seen := map[event.Kind]bool{}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			env, err := event.Decode(raw)
			if err != nil {
				t.Fatal(err)
			}
			if want := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "envelope-"), ".json"); string(env.Kind) != want {
				t.Fatalf("kind %q in a file named for %q", env.Kind, want)
			}
			seen[env.Kind] = true
			p := payloads[env.Kind]()
			dec := json.NewDecoder(bytes.NewReader(env.Payload))
			dec.DisallowUnknownFields()
			if err := dec.Decode(p); err != nil {
				t.Fatalf("payload has fields the %s type does not: %v", env.Kind, err)
			}
			env.Payload, _ = json.Marshal(p)
			again, err := env.Encode()
			if err != nil {
				t.Fatal(err)
			}
			var want, got any
			_ = json.Unmarshal(raw, &want)
			_ = json.Unmarshal(again, &got)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("round trip (-sample +encoded):\n%s", diff)
			}
		})
	}
	for k := range payloads {
		if !seen[k] {
			t.Errorf("no events/envelope-%s.json sample", k)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"not json", `{`, "unexpected end of JSON input"},
		{"wrong version", `{"version":2,"id":"x","kind":"push","payload":{}}`, "version 2, want 1"},
		{"no id", `{"version":1,"kind":"push","payload":{}}`, "missing id"},
		{"unknown kind", `{"version":1,"id":"x","kind":"deploy","payload":{}}`, `unknown kind "deploy"`},
		{"no payload", `{"version":1,"id":"x","kind":"push"}`, "missing payload"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := event.Decode([]byte(tc.in))
			if !errors.Is(err, event.ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Decode = %v, want ErrMalformed containing %q", err, tc.want)
			}
		})
	}
}

func TestEncodeLimit(t *testing.T) {
	env, err := event.New(event.KindPush, "github", "d", "", event.Push{Repository: strings.Repeat("x", event.MaxSize)}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Encode(); err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Fatalf("Encode of an oversize envelope = %v, want a size error", err)
	}
}
