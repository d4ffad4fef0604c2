package gitops

import (
	"errors"
	"io/fs"
	nethttp "net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport/http"

	"github.com/conveyor-gitops/conveyor/shared/retry"
)

func TestErrorClasses(t *testing.T) {
	root := t.TempDir()
	dir := newBareRepo(t, root, "gitops.git", seedFiles)
	secured := serveHTTP(t, root, "x-access-token", "right")
	closed := httptest.NewServer(nil)
	closed.Close()
	hanging := httptest.NewServer(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, req *nethttp.Request) {
		select {
		case <-req.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	t.Cleanup(hanging.Close)

	for _, tc := range []struct {
		name      string
		repo      Repo
		edit      Edit
		permanent bool
		is        error
	}{
		{name: "missing base branch", repo: Repo{URL: "file://" + dir, Base: "nope"}, permanent: true, is: ErrBranchNotFound},
		{name: "nonexistent path", repo: Repo{URL: "file://" + root + "/missing.git", Base: "main"}, permanent: true},
		{name: "nonexistent local path", repo: Repo{URL: root + "/missing.git", Base: "main"}, permanent: true},
		{name: "nonexistent http repository", repo: Repo{URL: serveHTTP(t, root, "", "") + "/missing.git", Base: "main"}, permanent: true},
		{name: "wrong token", repo: Repo{URL: secured + "/gitops.git", Base: "main", Auth: &http.BasicAuth{Username: "x-access-token", Password: "wrong"}}, permanent: true},
		{name: "no token", repo: Repo{URL: secured + "/gitops.git", Base: "main"}, permanent: true},
		{name: "invalid edit path", repo: Repo{URL: "file://" + dir, Base: "main"}, permanent: true,
			edit: func(fs.FS) (map[string][]byte, error) { return map[string][]byte{"../escape": []byte("x")}, nil }},
		{name: "connection refused", repo: Repo{URL: closed.URL + "/gitops.git", Base: "main"}, permanent: false},
		{name: "step timeout", repo: Repo{URL: hanging.URL + "/gitops.git", Base: "main", opts: options{timeout: 200 * time.Millisecond}}, permanent: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			edit := tc.edit
			if edit == nil {
				edit = setDigest("dev", digest(9))
			}
			_, err := tc.repo.Propose(testContext(t), "conveyor/dev/web", edit, "promote", time.Now())
			if err == nil {
				t.Fatal("Propose succeeded, want an error")
			}
			t.Logf("error: %v", err)
			if got := retry.IsPermanent(err); got != tc.permanent {
				t.Errorf("IsPermanent(%v) = %v, want %v", err, got, tc.permanent)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("err = %v, want %v", err, tc.is)
			}
		})
	}

	// The right token works against the same server.
	r := Repo{URL: secured + "/gitops.git", Base: "main", Auth: &http.BasicAuth{Username: "x-access-token", Password: "right"}}
	if _, err := r.Propose(testContext(t), "conveyor/dev/web", setDigest("dev", digest(9)), "promote", time.Now()); err != nil {
		t.Errorf("Propose with the right token: %v", err)
	}
	// LandMerge of a branch that does not exist cannot succeed later.
	if _, err := r.LandMerge(testContext(t), "conveyor/dev/none", setDigest("dev", digest(9)), "merge", time.Now()); !retry.IsPermanent(err) || !errors.Is(err, ErrBranchNotFound) {
		t.Errorf("LandMerge of a missing branch: err = %v, want permanent ErrBranchNotFound", err)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for name, opt := range map[string]Option{
		"zero attempts":    WithAttempts(0),
		"negative timeout": WithTimeout(-time.Second),
	} {
		if _, err := New("file:///x", "main", nil, testAuthor, opt); err == nil {
			t.Errorf("New with %s succeeded", name)
		}
	}
}
