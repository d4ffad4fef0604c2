package build

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/conveyor-gitops/conveyor/shared/history"
	"github.com/conveyor-gitops/conveyor/shared/state"
)

// Commits reads a source commit's author and subject from its build
// record, which the build took from its own clone: the board uses it
// where it has no clone of the source repository (a Lambda function, a
// local runtime building from https).
type Commits struct{ Records state.Idempotency }

// BuiltCommit returns what the build of app at sha recorded of its commit.
func (c Commits) BuiltCommit(ctx context.Context, app, sha string) (history.Commit, error) {
	rec, err := c.Records.Get(ctx, Key(app, sha))
	if err != nil {
		return history.Commit{}, err
	}
	var built Built
	if err := json.Unmarshal(rec.Result, &built); err != nil {
		return history.Commit{}, fmt.Errorf("reading the build record of %s at %.12s: %w", app, sha, err)
	}
	return history.Commit{ID: sha, Author: built.Author, Message: built.Subject}, nil
}
