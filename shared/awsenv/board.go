package awsenv

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/conveyor-gitops/conveyor/shared/board"
	"github.com/conveyor-gitops/conveyor/shared/build"
	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/queue/sqsqueue"
	"github.com/conveyor-gitops/conveyor/shared/replay"
	"github.com/conveyor-gitops/conveyor/shared/state"
	"github.com/conveyor-gitops/conveyor/shared/webhook"
)

// BoardPoll is how often the board's pages ask the stack for changes, so
// that a page shows a change within a second: a function URL in BUFFERED
// mode (and API Gateway) hands over a Lambda's response whole, so pages
// poll instead of listening to a stream. Each poll is one invocation
// reading the releases' index and the queues' counters.
const BoardPoll = time.Second

// BoardHandler answers API Gateway HTTP API (payload 2.0) requests for the
// board.
type BoardHandler = func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// QueueStats counts every work queue's messages from SQS's attributes: it
// receives nothing, so it hides no message and spends no receive.
func (e *Env) QueueStats(ctx context.Context) (map[string]queue.Stats, error) {
	urls := map[string]sqsqueue.URLs{}
	for n, u := range e.Config.Queues {
		urls[n] = sqsqueue.URLs{Queue: u.URL, DeadLetter: u.DeadLetter}
	}
	return sqsqueue.Stats(ctx, e.SQS(), urls)
}

// Board returns the pipeline board over the stack's table, queues and
// GitOps repository. Dead letters are counted from SQS's attributes and
// listed from their records in the table (replay.Recorded), never received:
// receiving from a queue hides its messages, which is not reading.
func (e *Env) Board() (http.Handler, error) {
	st, err := e.State()
	if err != nil {
		return nil, err
	}
	p := e.Pipeline()
	if p == nil {
		return nil, errors.New("the board needs the GitOps repository (" + VarGitOpsRepo + ")")
	}
	return board.New(board.Sources{Config: p.Config, Releases: perApp{st, p.Config}, GitOps: e.GitOps(), Queues: e, Dead: replay.NewRecorded(st),
		Builds: build.Commits{Records: st}},
		board.WithPolling(BoardPoll), board.WithLogger(e.Log.With("function", "board")))
}

// perApp lists releases one app at a time, with the table's index, when
// asked for every app: a function's role is never granted a Scan (the
// table also holds every idempotency record), only the operator's is.
type perApp struct {
	state.Releases
	config func(context.Context) (*config.Config, error)
}

// prIndex lists a pull request's releases from an index, without a scan.
type prIndex interface {
	ListPullRequest(ctx context.Context, f state.ReleaseFilter) ([]state.Release, bool, error)
}

func (p perApp) ListReleases(ctx context.Context, f state.ReleaseFilter) ([]state.Release, error) {
	if f.App != "" {
		return p.Releases.ListReleases(ctx, f)
	}
	if ix, ok := p.Releases.(prIndex); ok && f.PR > 0 {
		// One query; app by app only for releases written before the
		// pull request index.
		if rels, indexed, err := ix.ListPullRequest(ctx, f); err != nil || indexed {
			return rels, err
		}
	}
	cfg, err := p.config(ctx)
	if err != nil {
		return nil, err
	}
	var out []state.Release
	for _, a := range cfg.Apps {
		f.App = a.Name
		rels, err := p.Releases.ListReleases(ctx, f)
		if err != nil {
			return nil, err
		}
		out = append(out, rels...)
	}
	return out, nil
}

// BoardLambda is Board behind API Gateway.
func (e *Env) BoardLambda() (BoardHandler, error) {
	h, err := e.Board()
	if err != nil {
		return nil, err
	}
	return webhook.LambdaHandler(h), nil
}
