package promote

import (
	"bytes"
	"errors"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/manifest"
	"github.com/conveyor-gitops/conveyor/shared/retry"
)

// TestEditEnvRefusesOversizeFilesUnread proves editEnv checks a file's
// size before reading it: a file over manifest.MaxFileSize is refused with a
// permanent error naming it and its size, and refusing it copies nothing.
func TestEditEnvRefusesOversizeFilesUnread(t *testing.T) {
	big := bytes.Repeat([]byte("key: value\n"), 16<<20/11)
	small := []byte("image:\n  repository: acme/web\n  digest: sha256:" + strings.Repeat("0", 64) + "\n")
	fsys := fstest.MapFS{
		"envs/dev/values.yaml": {Data: big},
		"envs/dir/values.yaml": {Data: small},
		"envs/dir/zz-big.yaml": {Data: append([]byte("containers:\n"), big...)},
	}
	ref := manifest.Ref{Repository: "acme/web", Digest: "sha256:" + strings.Repeat("1", 64)}
	helm := config.Helm{Repository: "image.repository", Digest: "image.digest"}
	app := &config.App{Name: "web", Image: "acme/web"}
	for _, tc := range []struct {
		name string
		env  config.Environment
		file string
		size int
	}{
		{"the environment's file", config.Environment{Name: "dev", Path: "envs/dev/values.yaml", Strategy: config.StrategyHelm, Helm: helm},
			"envs/dev/values.yaml", len(big)},
		{"a file of the environment's directory", config.Environment{Name: "dir", Path: "envs/dir"},
			"envs/dir/zz-big.yaml", len(big) + len("containers:\n")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, _, err := editEnv(fsys, app, &tc.env, ref)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, manifest.ErrTooLarge) || !retry.IsPermanent(err) {
				t.Fatalf("editEnv = %v, want a permanent manifest.ErrTooLarge", err)
			}
			if msg := err.Error(); !strings.Contains(msg, tc.file) || !strings.Contains(msg, strconv.Itoa(tc.size)+" bytes") {
				t.Errorf("error %q does not name %s and its size %d", msg, tc.file, tc.size)
			}
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
				t.Errorf("refusing the file allocated %d KB, want under 1 MB", grew>>10)
			}
		})
	}
}
