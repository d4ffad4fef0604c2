package imagebuild

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestBuildSelectsFiles(t *testing.T) {
	reg := newRegistry(t)
	files := map[string]string{
		".dockerignore":     "**/*.log\nsecrets/\ndocs/*\n!docs/keep.md\n",
		"cmd/a/main.go":     "package main",
		"cmd/b/main.go":     "package main",
		"cmd/b/debug.log":   "noise",
		"cmd/README":        "not a go file",
		"secrets/token":     "s3cret",
		"docs/keep.md":      "kept",
		"docs/drop.md":      "dropped",
		"static/index.html": "<html>",
		"static/app.js":     "js",
	}
	tests := []struct {
		name       string
		dockerfile string
		want       []string
	}{{
		name:       "dockerignore with an exception",
		dockerfile: "FROM scratch\nCOPY . /src/\n",
		want: []string{
			"src/ 5 0755 0:0 2025-03-14T15:09:26Z",
			"src/.dockerignore 0 0644 0:0 2025-03-14T15:09:26Z 39",
			"src/cmd/ 5 0755 0:0 2025-03-14T15:09:26Z",
			"src/cmd/README 0 0644 0:0 2025-03-14T15:09:26Z 13",
			"src/cmd/a/ 5 0755 0:0 2025-03-14T15:09:26Z",
			"src/cmd/a/main.go 0 0644 0:0 2025-03-14T15:09:26Z 12",
			"src/cmd/b/ 5 0755 0:0 2025-03-14T15:09:26Z",
			"src/cmd/b/main.go 0 0644 0:0 2025-03-14T15:09:26Z 12",
			"src/docs/ 5 0755 0:0 2025-03-14T15:09:26Z",
			"src/docs/keep.md 0 0644 0:0 2025-03-14T15:09:26Z 4",
			"src/static/ 5 0755 0:0 2025-03-14T15:09:26Z",
			"src/static/app.js 0 0644 0:0 2025-03-14T15:09:26Z 2",
			"src/static/index.html 0 0644 0:0 2025-03-14T15:09:26Z 6",
		},
	}, {
		name:       "wildcards",
		dockerfile: "FROM scratch\nCOPY cmd/*/main.go static/*.js /app/\n",
		want: []string{
			"app/ 5 0755 0:0 2025-03-14T15:09:26Z",
			"app/app.js 0 0644 0:0 2025-03-14T15:09:26Z 2",
			"app/main.go 0 0644 0:0 2025-03-14T15:09:26Z 12",
		},
	}, {
		name: "multi-stage COPY --from",
		dockerfile: `FROM scratch AS assets
WORKDIR /build
COPY static ./web
COPY --chmod=0600 docs/keep.md ./web/
FROM scratch
COPY --from=assets /build/web/*.html /srv/
COPY --from=assets /build/web /srv/all
`,
		want: []string{
			"srv/ 5 0755 0:0 2025-03-14T15:09:26Z",
			"srv/all/ 5 0755 0:0 2025-03-14T15:09:26Z",
			"srv/all/app.js 0 0644 0:0 2025-03-14T15:09:26Z 2",
			"srv/all/index.html 0 0644 0:0 2025-03-14T15:09:26Z 6",
			"srv/all/keep.md 0 0600 0:0 2025-03-14T15:09:26Z 4",
		},
	}}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeContext(t, files, time.Now())
			res, err := buildDockerfile(t, dir, tt.dockerfile, reg.repo(t, "acme/select"))
			if err != nil {
				t.Fatal(err)
			}
			img, err := remote.Image(reg.repo(t, "acme/select").Digest(res.Digest.String()))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, lastLayer(t, img)); diff != "" {
				t.Errorf("case %d: last layer mismatch (-want +got):\n%s", i, diff)
			}
		})
	}
}
