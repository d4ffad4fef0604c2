package githubforge_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/retry"
)

// closedPull is a list item of GET /pulls?state=closed as GitHub sends it:
// the simple form, without "merged" or "merged_by", so a merge shows only
// in merged_at.
func closedPull(t *testing.T, n int, merged bool, labels ...string) string {
	t.Helper()
	ls := []map[string]any{}
	for _, l := range labels {
		ls = append(ls, map[string]any{"name": l, "color": "f29513", "default": false})
	}
	fields := map[string]any{"number": n, "state": "closed", "labels": ls, "html_url": fmt.Sprintf("https://github.com/o/r/pull/%d", n),
		"closed_at": "2024-03-11T10:00:00Z", "updated_at": "2024-03-11T10:00:00Z", "merge_commit_sha": fmt.Sprintf("%040x", n)}
	if merged {
		fields["merged_at"] = "2024-03-11T10:00:00Z"
	}
	return pull(t, fields)
}

// mergedPR is what ListMerged returns for closedPull(n, true, labels...).
func mergedPR(n int, labels ...string) *forge.PR {
	pr := wantPR()
	pr.Number, pr.URL, pr.State, pr.Labels = n, fmt.Sprintf("https://github.com/o/r/pull/%d", n), forge.StateMerged, labels
	pr.MergeCommit, pr.MergedAt = fmt.Sprintf("%040x", n), time.Date(2024, 3, 11, 10, 0, 0, 0, time.UTC)
	return pr
}

func nextPage(page int) map[string]string {
	return map[string]string{"Link": fmt.Sprintf(`<https://api.github.com/repositories/1296269/pulls?state=closed&page=%d>; rel="next"`, page)}
}

// pullsQuery is the query ListMerged sends for page (0: the first).
func pullsQuery(perPage, page int) string {
	q := fmt.Sprintf("direction=desc&per_page=%d&sort=updated&state=closed", perPage)
	if page > 0 {
		q = fmt.Sprintf("direction=desc&page=%d&per_page=%d&sort=updated&state=closed", page, perPage)
	}
	return q
}

// TestListMerged: reconciliation finds lost merges among the most recently
// updated closed pull requests — only Conveyor's (labelled, in any case)
// and only merged ones — across pages, and reads no more of the history
// than it asked for, so that a repository with a long closed history does
// not cost a request per hundred of them on every pass.
func TestListMerged(t *testing.T) {
	// 100 closed pull requests, newest first: every tenth merged by
	// Conveyor, the others merged by people or closed unmerged.
	var hundred []string
	var hundredWant []*forge.PR
	for n := 300; n > 200; n-- {
		switch {
		case n%10 == 0:
			hundred = append(hundred, closedPull(t, n, true, "conveyor", "env:dev"))
			hundredWant = append(hundredWant, mergedPR(n, "conveyor", "env:dev"))
		case n%3 == 0:
			hundred = append(hundred, closedPull(t, n, false, "conveyor"))
		default:
			hundred = append(hundred, closedPull(t, n, true, "docs"))
		}
	}
	tests := []struct {
		name      string
		limit     int
		pages     []reply
		want      []*forge.PR
		wantPages []string
	}{
		{
			name:  "only merged conveyor pull requests",
			limit: 50,
			pages: []reply{{Body: listOf(closedPull(t, 12, true, "conveyor"), closedPull(t, 11, false, "conveyor"),
				closedPull(t, 10, true, "docs"), closedPull(t, 9, true, "Conveyor"), closedPull(t, 8, true))}},
			want:      []*forge.PR{mergedPR(12, "conveyor"), mergedPR(9, "Conveyor")},
			wantPages: []string{pullsQuery(50, 0)},
		},
		{
			name:  "across pages, up to the limit",
			limit: 150,
			pages: []reply{{Body: listOf(hundred...), Header: nextPage(2)},
				{Body: listOf(closedPull(t, 200, true, "conveyor"), closedPull(t, 199, false, "conveyor"), closedPull(t, 198, true, "conveyor"))}},
			want:      append(append([]*forge.PR{}, hundredWant...), mergedPR(200, "conveyor"), mergedPR(198, "conveyor")),
			wantPages: []string{pullsQuery(100, 0), pullsQuery(100, 2)},
		},
		{
			name:      "stops once enough are found",
			limit:     2,
			pages:     []reply{{Body: listOf(closedPull(t, 12, true, "conveyor"), closedPull(t, 11, true, "conveyor")), Header: nextPage(2)}, {Body: listOf(hundred[:2]...)}},
			want:      []*forge.PR{mergedPR(12, "conveyor"), mergedPR(11, "conveyor")},
			wantPages: []string{pullsQuery(2, 0)},
		},
		{
			name:      "reads no further back than the limit",
			limit:     10,
			pages:     []reply{{Body: listOf(hundred[:10]...), Header: nextPage(2)}, {Body: listOf(hundred[10:20]...), Header: nextPage(3)}},
			want:      hundredWant[:1],
			wantPages: []string{pullsQuery(10, 0)},
		},
		{
			name:      "none merged",
			limit:     50,
			pages:     []reply{{Body: "[]"}},
			want:      nil,
			wantPages: []string{pullsQuery(50, 0)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, gh := newForge(t, map[string][]reply{"GET /repos/o/r/pulls": tt.pages})
			got, err := f.ListMerged(context.Background(), "conveyor", tt.limit)
			if err != nil {
				t.Fatalf("ListMerged: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ListMerged (-want +got):\n%s", diff)
			}
			var pages []string
			for _, c := range gh.Calls() {
				pages = append(pages, c.Method+" "+c.Path+"?"+c.Query)
			}
			for i, q := range tt.wantPages {
				tt.wantPages[i] = "GET /repos/o/r/pulls?" + q
			}
			if diff := cmp.Diff(tt.wantPages, pages); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
		})
	}
}

// TestListMergedErrors: a failed page fails the listing with GitHub's
// classification, so that the pass is retried rather than taken as "no
// merges".
func TestListMergedErrors(t *testing.T) {
	tests := []struct {
		name          string
		pages         []reply
		wantPermanent bool
	}{
		{name: "server error", pages: []reply{{Status: http.StatusBadGateway, Body: ghError(502, "Server Error", "")}}},
		{name: "second page fails", pages: []reply{{Body: listOf(closedPull(t, 5, true, "conveyor")), Header: nextPage(2)},
			{Status: http.StatusBadGateway, Body: ghError(502, "Server Error", "")}}},
		{name: "not found", pages: []reply{{Status: http.StatusNotFound, Body: ghError(404, "Not Found", "https://docs.github.com/rest/pulls/pulls#list-pull-requests")}},
			wantPermanent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _ := newForge(t, map[string][]reply{"GET /repos/o/r/pulls": tt.pages})
			got, err := f.ListMerged(context.Background(), "conveyor", 150)
			if err == nil || got != nil {
				t.Fatalf("ListMerged = %v, %v; want an error and nothing", got, err)
			}
			if !strings.Contains(err.Error(), "listing merged pull requests") {
				t.Errorf("error %q does not say what failed", err)
			}
			if retry.IsPermanent(err) != tt.wantPermanent {
				t.Errorf("permanent = %v, want %v: %v", retry.IsPermanent(err), tt.wantPermanent, err)
			}
		})
	}
}
