package manifest

import (
	"strings"
	"testing"
	"time"
)

// TestLargeInputs keeps edits of files near MaxFileSize fast.
func TestLargeInputs(t *testing.T) {
	if testing.Short() {
		t.Skip("large inputs")
	}
	container := "  - name: c%d\n    image: ghcr.io/acme/x:v1\n"
	var raw strings.Builder
	raw.WriteString("kind: Pod\nspec:\n  containers:\n")
	for i := 0; raw.Len() < MaxFileSize-200; i++ {
		raw.WriteString(strings.Replace(container, "%d", strings.Repeat("x", i%7), 1))
	}
	raw.WriteString("  - name: web\n    image: ghcr.io/acme/web:v1\n")
	marker := strings.Repeat("a: b # conveyor:image other\n", MaxFileSize/30) + "i: ghcr.io/acme/web:v1 # conveyor:image web\n"
	for _, tc := range []struct {
		name, file, data string
		target           Target
	}{
		{"raw", "pod.yaml", raw.String(), Target{App: "web"}},
		{"marker", "values.yaml", marker, Target{App: "web"}},
	} {
		start := time.Now()
		if _, _, err := Edit(tc.file, []byte(tc.data), tc.target, webRef); err != nil && !strings.Contains(err.Error(), "2 containers") {
			t.Errorf("%s: %v", tc.name, err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%s: editing %d bytes took %v", tc.name, len(tc.data), d)
		}
		t.Logf("%s: %d bytes in %v", tc.name, len(tc.data), time.Since(start))
	}
}
