package githubforge_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/retry"
)

const mergeSHA = "e5bd3914e2e596debea16f433f57875b5b90bcd6"

func TestMerge(t *testing.T) {
	computing := pull(t, map[string]any{"mergeable": nil, "mergeable_state": "unknown"})
	mergedOK := `{"sha": "` + mergeSHA + `", "merged": true, "message": "Pull Request successfully merged"}`
	get := call{Method: "GET", Path: pullPath}
	put := call{Method: "PUT", Path: pullPath + "/merge", Body: map[string]any{"merge_method": "squash", "sha": headSHA,
		"commit_message": "Approved-by: alice, bob"}}

	tests := []struct {
		name          string
		get           []reply
		put           reply
		headSHA       string
		want          string
		wantErr       error
		wantPermanent bool
		wantCalls     []call
	}{{
		name:      "mergeable null then true",
		get:       []reply{{Body: computing}, {Body: "@pull.json"}},
		put:       reply{Body: mergedOK},
		headSHA:   headSHA,
		want:      mergeSHA,
		wantCalls: []call{get, get, put},
	}, {
		name:      "still computing after the polls lets GitHub decide",
		get:       []reply{{Body: computing}},
		put:       reply{Body: mergedOK},
		headSHA:   headSHA,
		want:      mergeSHA,
		wantCalls: []call{get, get, get, get, put},
	}, {
		name: "405 not mergeable",
		get:  []reply{{Body: "@pull.json"}},
		put: reply{Status: http.StatusMethodNotAllowed, Body: ghError(405, "Pull Request is not mergeable",
			"https://docs.github.com/rest/pulls/pulls#merge-a-pull-request")},
		headSHA:   headSHA,
		wantErr:   forge.ErrNotMergeable,
		wantCalls: []call{get, put},
	}, {
		name: "405 merge method not allowed is permanent",
		get:  []reply{{Body: "@pull.json"}},
		put: reply{Status: http.StatusMethodNotAllowed, Body: ghError(405, "Squash merges are not allowed on this repository.",
			"https://docs.github.com/rest/pulls/pulls#merge-a-pull-request")},
		headSHA:       headSHA,
		wantErr:       forge.ErrNotMergeable,
		wantPermanent: true,
		wantCalls:     []call{get, put},
	}, {
		name: "409 head branch modified",
		get:  []reply{{Body: "@pull.json"}},
		put: reply{Status: http.StatusConflict, Body: ghError(409, "Head branch was modified. Review and try the merge again.",
			"https://docs.github.com/rest/pulls/pulls#merge-a-pull-request")},
		headSHA:   headSHA,
		wantErr:   forge.ErrNotMergeable,
		wantCalls: []call{get, put},
	}, {
		name:      "mergeable false is transient without merging",
		get:       []reply{{Body: pull(t, map[string]any{"mergeable": false, "mergeable_state": "dirty"})}},
		headSHA:   headSHA,
		wantErr:   forge.ErrNotMergeable,
		wantCalls: []call{get},
	}, {
		name:      "head moved",
		get:       []reply{{Body: "@pull.json"}},
		headSHA:   "0000000000000000000000000000000000000000",
		wantErr:   forge.ErrNotMergeable,
		wantCalls: []call{get},
	}, {
		name: "already merged returns its merge commit",
		get: []reply{{Body: pull(t, map[string]any{
			"state": "closed", "merged": true, "mergeable": nil, "merged_at": "2024-03-11T10:02:11Z",
			"closed_at": "2024-03-11T10:02:11Z", "merged_by": map[string]any{"login": "alice", "id": 1, "type": "User"},
		})}},
		headSHA:   headSHA,
		want:      mergeSHA,
		wantCalls: []call{get},
	}, {
		name:          "closed without merging is permanent",
		get:           []reply{{Body: pull(t, map[string]any{"state": "closed", "mergeable": nil, "closed_at": "2024-03-11T10:02:11Z"})}},
		headSHA:       headSHA,
		wantErr:       forge.ErrNotMergeable,
		wantPermanent: true,
		wantCalls:     []call{get},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, gh := newForge(t, map[string][]reply{
				"GET " + pullPath:            tt.get,
				"PUT " + pullPath + "/merge": {tt.put},
			})
			got, err := f.Merge(context.Background(), 42, forge.MergeOptions{Method: forge.MergeSquash, HeadSHA: tt.headSHA, Message: "Approved-by: alice, bob"})
			if !errors.Is(err, tt.wantErr) || (err != nil) != (tt.wantErr != nil) {
				t.Fatalf("Merge error = %v, want %v", err, tt.wantErr)
			}
			if got := retry.IsPermanent(err); got != tt.wantPermanent {
				t.Errorf("IsPermanent(%v) = %v, want %v", err, got, tt.wantPermanent)
			}
			if got != tt.want {
				t.Errorf("Merge = %q, want %q", got, tt.want)
			}
			if diff := cmp.Diff(tt.wantCalls, gh.Calls()); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMergeRejectsUnknownMethod(t *testing.T) {
	f, gh := newForge(t, nil)
	_, err := f.Merge(context.Background(), 42, forge.MergeOptions{Method: "fast-forward", HeadSHA: headSHA})
	if err == nil || !retry.IsPermanent(err) {
		t.Fatalf("Merge error = %v, want a permanent error", err)
	}
	if calls := gh.Calls(); len(calls) != 0 {
		t.Errorf("requests = %v, want none", calls)
	}
}
