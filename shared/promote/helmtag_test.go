package promote_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/gitops"
	"github.com/conveyor-gitops/conveyor/shared/promote"
	"github.com/conveyor-gitops/conveyor/shared/retry"
)

// TestHelmTagPath promotes into the usual chart layout, a values file read
// as "{{ .Values.image.repository }}:{{ .Values.image.tag }}" with no digest
// value and no keepTag: the tag value becomes TAG@DIGEST, TAG being the
// pushed tag, else the builder's sha-<12> tag; with neither, the promotion is
// refused as permanent.
func TestHelmTagPath(t *testing.T) {
	ctx := context.Background()
	d := digest(7)
	rev := "0123456789abcdef0123456789abcdef01234567"
	for _, tc := range []struct {
		name     string
		in       event.Promotion
		want     string
		wantPerm bool
	}{
		{name: "pushed tag", in: event.Promotion{Tag: "v1.4.2", Revision: rev}, want: `  tag: "v1.4.2@` + d + `" # the chart's default`},
		{name: "builder tag", in: event.Promotion{Revision: rev}, want: `  tag: "sha-0123456789ab@` + d + `" # the chart's default`},
		{name: "no tag", in: event.Promotion{}, wantPerm: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, "manual")
			values := "image:\n  repository: " + image + "\n  tag: \"1.0.0\" # the chart's default\n  pullPolicy: IfNotPresent\n"
			if _, err := f.repo.Commit(map[string]string{"chart/values-dev.yaml": values}, "chart", time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)); err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Parse("conveyor.yaml", []byte(fmt.Sprintf(`version: 1
apps:
  - name: web
    source: {repo: %s}
    image: %s
    environments:
      - {name: dev, path: chart/values-dev.yaml, strategy: helm, helm: {repository: image.repository, tag: image.tag}, reviewers: [alice]}
`, filepath.Join(t.TempDir(), "web"), image)))
			if err != nil {
				t.Fatal(err)
			}
			f.p.Config = func(context.Context) (*config.Config, error) { return cfg, nil }
			in := tc.in
			in.App, in.Environment, in.Image, in.Digest = "web", "dev", image, d
			out, err := f.p.Promote(ctx, in)
			if tc.wantPerm {
				if err == nil || !retry.IsPermanent(err) || !strings.Contains(err.Error(), "IMAGE:TAG@DIGEST") {
					t.Fatalf("Promote = %v, %v; want a permanent error naming IMAGE:TAG@DIGEST", out, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if out.Action != promote.Opened {
				t.Fatalf("action %s, want %s", out.Action, promote.Opened)
			}
			got, _, err := gitops.ReadFile(ctx, f.repo.Dir, promote.Branch("web", "dev"), "chart/values-dev.yaml", nil)
			if err != nil {
				t.Fatal(err)
			}
			want := strings.Replace(values, `  tag: "1.0.0" # the chart's default`, tc.want, 1)
			if string(got) != want {
				t.Fatalf("values after the promotion:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}
