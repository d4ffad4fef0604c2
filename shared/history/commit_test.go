package history_test

import (
	"context"
	"errors"
	"testing"

	"github.com/conveyor-gitops/conveyor/shared/history"
)

func TestLocalCommit(t *testing.T) {
	dir, shas := forkedRepo(t)
	for _, tc := range []struct {
		name, repo, sha string
		subject         string
		wantErr         error
	}{
		{name: "path", repo: dir, sha: shas["second"], subject: "second"},
		{name: "file URL", repo: "file://" + dir, sha: shas["rewritten"], subject: "rewritten"},
		{name: "unknown commit", repo: dir, sha: shas["unknown"], wantErr: history.ErrUnknownCommit},
		{name: "not local", repo: "acme/web", sha: shas["first"], wantErr: errors.ErrUnsupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := history.Local{}.Commit(context.Background(), tc.repo, tc.sha)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Commit: %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr != nil {
				return
			}
			if c.Subject() != tc.subject || c.ID != tc.sha || c.Author == "" || c.When.IsZero() {
				t.Errorf("Commit = %+v, want %s by someone, with its time and subject %q", c, tc.sha, tc.subject)
			}
		})
	}
}
