package board

import (
	"net/http"
	"strconv"

	"github.com/conveyor-gitops/conveyor/shared/state"
)

type prPage struct {
	page
	Number   int
	URL      string
	Releases []state.Release
}

// pr shows one promotion pull request: every release it proposed (a PR
// updated in place proposed several digests), with its state, approvers
// and merge.
func (b *Board) pr(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	n, err := strconv.Atoi(r.PathValue("number"))
	if err != nil || n <= 0 {
		http.Error(w, "a pull request number is a positive integer", http.StatusBadRequest)
		return
	}
	version := b.version(ctx)
	// Through the stores' index of pull requests: the page costs this
	// pull request's releases, not the history.
	rels, err := b.src.Releases.ListReleases(ctx, state.ReleaseFilter{PR: n})
	if err != nil {
		b.fail(ctx, w, "the records", err)
		return
	}
	p := prPage{page: page{Title: "Pull request #" + strconv.Itoa(n), Nav: "pr", Version: version, Now: b.now()}, Number: n, Releases: rels}
	for _, rel := range rels {
		if rel.PRURL != "" {
			p.URL = rel.PRURL
		}
	}
	if len(p.Releases) == 0 {
		http.Error(w, "no promotion has this pull request", http.StatusNotFound)
		return
	}
	b.render(ctx, w, r, "pr", p)
}
