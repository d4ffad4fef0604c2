package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

func TestTraceAndRedaction(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, slog.LevelInfo).With("function", "webhook")
	ctx := WithTrace(context.Background(), "trace-123")
	log.InfoContext(ctx, "accepted", "github_token", "ghs_supersecretvalue", "webhook_secret", "It's a Secret", "Authorization", "Bearer abc", "delivery_id", "d1")
	line := buf.String()
	for _, leaked := range []string{"ghs_supersecretvalue", "It's a Secret", "Bearer abc"} {
		if strings.Contains(line, leaked) {
			t.Errorf("log line leaks %q: %s", leaked, line)
		}
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(line), &rec); err != nil {
		t.Fatalf("log line is not JSON: %v: %s", err, line)
	}
	for k, want := range map[string]string{"trace_id": "trace-123", "function": "webhook", "delivery_id": "d1", "github_token": Redacted} {
		if rec[k] != want {
			t.Errorf("%s = %v, want %q", k, rec[k], want)
		}
	}
}
