package board

import (
	"context"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/history"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/reconcile"
	"github.com/conveyor-gitops/conveyor/shared/replay"
	"github.com/conveyor-gitops/conveyor/shared/state"
)

// Releases reads release records: state.Store satisfies it.
type Releases interface {
	ListReleases(ctx context.Context, f state.ReleaseFilter) ([]state.Release, error)
}

// QueueStats counts each work queue's messages, keyed by queue name: the
// local runtime and awsenv.Env (from SQS's attributes) satisfy it.
type QueueStats interface {
	QueueStats(ctx context.Context) (map[string]queue.Stats, error)
}

// DeadLetters lists dead-lettered messages: replay.Dead satisfies it. A
// lister that hides what it lists (SQS) should also be a replay.Releaser.
type DeadLetters interface {
	List(ctx context.Context, queue string) ([]replay.Record, error)
}

// Commits reads a source commit's author and message: history.Local
// satisfies it for repositories on this machine.
type Commits interface {
	Commit(ctx context.Context, repo, sha string) (history.Commit, error)
}

// Builds reads the author and subject the build of an app's commit
// recorded from its clone: the board falls back to it where Commits is
// nil or cannot read the repository (on AWS, where no clone is at hand).
type Builds interface {
	BuiltCommit(ctx context.Context, app, sha string) (history.Commit, error)
}

// Sources are what the board reads. Config and Releases are required; a
// nil optional port leaves its part of the page out (and says so).
type Sources struct {
	// Config loads the pipeline, as every command does.
	Config   func(context.Context) (*config.Config, error)
	Releases Releases
	// GitOps is the GitOps repository's base branch: with it the grid
	// shows what git pins and marks drift from the records.
	GitOps reconcile.History
	Queues QueueStats
	Dead   DeadLetters
	// Commits adds the source commit's message and author to each cell.
	Commits Commits
	// Builds is where the message and author come from without Commits.
	Builds Builds
}
