package awsenv

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/state"
)

// recordingReleases answers from rels and records every read; with
// indexed set it also lists pull requests from an index, as dynamostate
// does once releases carry the index's keys.
type recordingReleases struct {
	state.Releases
	rels    []state.Release
	indexed bool
	reads   []string
}

func (r *recordingReleases) ListReleases(_ context.Context, f state.ReleaseFilter) ([]state.Release, error) {
	r.reads = append(r.reads, fmt.Sprintf("list app=%s pr=%d", f.App, f.PR))
	var out []state.Release
	for _, rel := range r.rels {
		if (f.App == "" || rel.App == f.App) && (f.PR == 0 || rel.PR == f.PR) {
			out = append(out, rel)
		}
	}
	return out, nil
}

type indexedReleases struct{ *recordingReleases }

func (r indexedReleases) ListPullRequest(_ context.Context, f state.ReleaseFilter) ([]state.Release, bool, error) {
	r.reads = append(r.reads, fmt.Sprintf("index pr=%d", f.PR))
	if !r.indexed {
		return nil, false, nil
	}
	var out []state.Release
	for _, rel := range r.rels {
		if rel.PR == f.PR {
			out = append(out, rel)
		}
	}
	return out, len(out) > 0, nil
}

// TestBoardReleasesReadAPullRequestOnce: the board's pull request page
// costs one index query on AWS, not one per app; releases written before
// the index are still found app by app, as every other board read is.
func TestBoardReleasesReadAPullRequestOnce(t *testing.T) {
	cfg := &config.Config{Apps: []config.App{{Name: "web"}, {Name: "api"}, {Name: "worker"}}}
	rels := []state.Release{{ID: "a", App: "api", PR: 7}, {ID: "b", App: "web", PR: 8}, {ID: "c", App: "api", PR: 8}}
	for _, tc := range []struct {
		name      string
		store     func(*recordingReleases) state.Releases
		indexed   bool
		wantReads []string
	}{
		{"indexed", func(r *recordingReleases) state.Releases { return indexedReleases{r} }, true,
			[]string{"index pr=8"}},
		{"written before the index", func(r *recordingReleases) state.Releases { return indexedReleases{r} }, false,
			[]string{"index pr=8", "list app=web pr=8", "list app=api pr=8", "list app=worker pr=8"}},
		{"store without the index", func(r *recordingReleases) state.Releases { return r }, true,
			[]string{"list app=web pr=8", "list app=api pr=8", "list app=worker pr=8"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recordingReleases{rels: rels, indexed: tc.indexed}
			p := perApp{tc.store(rec), func(context.Context) (*config.Config, error) { return cfg, nil }}
			got, err := p.ListReleases(t.Context(), state.ReleaseFilter{PR: 8})
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, r := range got {
				ids = append(ids, r.ID)
			}
			slices.Sort(ids)
			if !slices.Equal(ids, []string{"b", "c"}) {
				t.Errorf("releases of #8 = %v, want [b c]", ids)
			}
			if !slices.Equal(rec.reads, tc.wantReads) {
				t.Errorf("reads = %q, want %q", rec.reads, tc.wantReads)
			}
		})
	}
}
