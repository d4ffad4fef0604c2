package approver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/crashpoint"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/logging"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/retry"
	"github.com/conveyor-gitops/conveyor/shared/runtime"
	"github.com/conveyor-gitops/conveyor/shared/state"
)

// ConfigSource returns the pipeline's current conveyor.yaml.
type ConfigSource = config.Loader

// Approver reacts to pull request events.
type Approver struct {
	Config     ConfigSource
	Releases   state.Releases
	Forge      forge.Forge
	Promotions queue.Sender
	DeadLetter runtime.DeadLetterer
	Log        *slog.Logger
	Now        func() time.Time
	// Teams resolves "org/team" reviewers (nil: only users listed by
	// name count).
	Teams TeamChecker
	// Metrics receives one CloudWatch Embedded Metric Format line per
	// production release (stdout in Lambda, where CloudWatch turns it into
	// the DORA metrics); nil writes none.
	Metrics io.Writer
}

// Lambda returns the SQS handler for the approvals queue.
func (a *Approver) Lambda() runtime.Handler {
	a.defaults()
	return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		return runtime.Each(ctx, ev, a.Log, a.DeadLetter, func(ctx context.Context, env *event.Envelope) error {
			if err := runtime.Expect(env, event.KindReview); err != nil {
				return err
			}
			var r event.Review
			if err := env.DecodePayload(&r); err != nil {
				return retry.Permanent(err)
			}
			return a.Handle(ctx, r)
		}), nil
	}
}

func (a *Approver) defaults() {
	if a.Log == nil {
		a.Log = slog.Default()
	}
	if a.Now == nil {
		a.Now = time.Now
	}
}

// ParseBranch splits a promotion branch conveyor/<env>/<app>.
func ParseBranch(branch string) (env, app string, ok bool) {
	rest, ok := strings.CutPrefix(branch, "conveyor/")
	if !ok {
		return "", "", false
	}
	env, app, ok = strings.Cut(rest, "/")
	return env, app, ok && env != "" && app != "" && !strings.Contains(app, "/")
}

// Handle processes one review event. Events about pull requests Conveyor
// did not open are ignored.
func (a *Approver) Handle(ctx context.Context, r event.Review) error {
	a.defaults()
	envName, appName, ok := ParseBranch(r.HeadRef)
	if !ok || (len(r.Labels) > 0 && !slices.Contains(r.Labels, "conveyor")) {
		a.Log.DebugContext(ctx, "not a Conveyor pull request: ignored", "branch", r.HeadRef, "pr", r.Number)
		return nil
	}
	log := a.Log.With("app", appName, "env", envName, "pr", r.Number, "action", r.Action)
	switch r.Action {
	case event.ReviewMerged:
		return a.merged(ctx, r, appName, envName, log)
	case event.ReviewClosed:
		return a.closed(ctx, r, appName, envName, log)
	case event.ReviewApproved:
		return a.approved(ctx, r, appName, envName, log)
	}
	log.DebugContext(ctx, "nothing to do for this action")
	return nil
}

// proposal finds the release a pull request proposed.
func (a *Approver) proposal(ctx context.Context, app, env string, number int) (*state.Release, error) {
	rels, err := a.Releases.ListReleases(ctx, state.ReleaseFilter{App: app, Env: env})
	if err != nil {
		return nil, err
	}
	var best *state.Release
	for i := range rels {
		r := &rels[i]
		if r.PR != number {
			continue
		}
		// A PR proposes one digest at a time: the latest update wins; a
		// release already merged by this PR is the answer too.
		if best == nil || r.State == state.Merged || (best.State != state.Merged && r.UpdatedAt.After(best.UpdatedAt) && r.State != state.Superseded) {
			best = r
		}
	}
	if best == nil {
		return nil, fmt.Errorf("no release of %s/%s was proposed in #%d", app, env, number)
	}
	return best, nil
}

func (a *Approver) merged(ctx context.Context, r event.Review, app, env string, log *slog.Logger) error {
	rel, err := a.proposal(ctx, app, env, r.Number)
	if err != nil {
		// The merge may have overtaken the promoter's record; retry.
		return err
	}
	if rel.State != state.Merged {
		rel.State, rel.MergeCommit, rel.MergedBy = state.Merged, r.MergeCommit, r.MergedBy
		rel.MergedAt = r.At
		if rel.MergedAt.IsZero() {
			rel.MergedAt = a.Now().UTC()
		}
		crashpoint.Hit(crashpoint.BeforeStateWrite)
		if err := a.Releases.PutRelease(ctx, rel); err != nil {
			return fmt.Errorf("recording the merge of #%d: %w", r.Number, err)
		}
		log.InfoContext(ctx, "release recorded", "digest", rel.Digest, "merged_by", r.MergedBy, "merge_commit", r.MergeCommit)
	}
	cfg, err := a.Config.Load(ctx)
	if err != nil {
		return err
	}
	appCfg, ok := cfg.App(app)
	if !ok {
		return retry.Permanent(fmt.Errorf("app %q is no longer in conveyor.yaml", app))
	}
	if last := appCfg.Environments[len(appCfg.Environments)-1].Name; last == env && a.Metrics != nil {
		a.Metrics.Write(append(releaseEMF(app, rel), '\n'))
	}
	if rel.Rollback {
		// A rollback restores one environment; it is not promoted onward.
		return nil
	}
	cur, _, ok := appCfg.Env(env)
	if !ok {
		return retry.Permanent(fmt.Errorf("app %s has no environment %q any more", app, env))
	}
	next, ok := appCfg.NextEnv(env)
	if !ok {
		log.InfoContext(ctx, "last environment released", "digest", rel.Digest)
		return nil
	}
	if cur.Verify {
		passed, err := a.Forge.ChecksPassed(ctx, r.MergeCommit)
		if err != nil {
			return err
		}
		if !passed {
			return retry.After(fmt.Errorf("verify: checks of %.12s in %s are not green yet", r.MergeCommit, env), time.Minute)
		}
	}
	p := event.Promotion{App: app, Environment: next.Name, Image: rel.Image, Digest: rel.Digest, Tag: rel.Tag,
		Source: rel.SourceRepo, Revision: rel.SourceCommit, Created: rel.SourceTime, From: env}
	trace := rel.TraceID
	if trace == "" {
		trace = logging.Trace(ctx)
	}
	out, err := event.New(event.KindPromotion, "conveyor", fmt.Sprintf("merged:%s:%d", r.Repository, r.Number), trace, p, a.Now())
	if err != nil {
		return err
	}
	if _, err := queue.SendEnvelope(ctx, a.Promotions, out, p.GroupID(), p.DedupeID(), p.App); err != nil {
		return fmt.Errorf("enqueueing the promotion of %s to %s: %w", app, next.Name, err)
	}
	log.InfoContext(ctx, "next environment promotion enqueued", "next", next.Name, "digest", rel.Digest)
	return nil
}

func (a *Approver) closed(ctx context.Context, r event.Review, app, env string, log *slog.Logger) error {
	rel, err := a.proposal(ctx, app, env, r.Number)
	if err != nil {
		log.InfoContext(ctx, "closed pull request has no proposal on record", "error", err.Error())
		return nil
	}
	if rel.State != state.Proposed {
		// Superseded proposals are closed by Conveyor itself.
		return nil
	}
	rel.State, rel.Note = state.Rejected, "closed without merging"
	if err := a.Releases.PutRelease(ctx, rel); err != nil && !errors.Is(err, state.ErrConflict) {
		return err
	}
	log.InfoContext(ctx, "promotion rejected", "digest", rel.Digest)
	return nil
}

// approved merges a manual environment's pull request once the policy
// holds: enough approvals from listed reviewers on the current head, no
// freeze window open, and green checks when the environment verifies.
func (a *Approver) approved(ctx context.Context, r event.Review, app, env string, log *slog.Logger) error {
	cfg, err := a.Config.Load(ctx)
	if err != nil {
		return err
	}
	appCfg, ok := cfg.App(app)
	if !ok {
		return nil
	}
	e, _, ok := appCfg.Env(env)
	if !ok || e.Release != config.ReleaseManual {
		return nil
	}
	pr, err := a.Forge.Get(ctx, r.Number)
	if err != nil {
		return err
	}
	if pr.State != forge.StateOpen {
		return nil
	}
	reviews, err := a.Forge.Reviews(ctx, r.Number)
	if err != nil {
		return err
	}
	ok, why := Satisfied(e, reviews, pr.HeadSHA, a.member(ctx))
	if !ok {
		log.InfoContext(ctx, "approval recorded; policy not yet satisfied", "reviewer", r.Reviewer, "why", why)
		return nil
	}
	if frozen, until := e.Frozen(a.Now()); frozen {
		return retry.After(fmt.Errorf("%s is frozen until %s: the merge waits", env, until.Format(time.RFC3339)), until.Sub(a.Now()))
	}
	if e.Verify {
		passed, err := a.Forge.ChecksPassed(ctx, pr.HeadSHA)
		if err != nil {
			return err
		}
		if !passed {
			log.InfoContext(ctx, "approved, but the pull request's checks are not green: leaving it to a person")
			return nil
		}
	}
	mc, err := a.Forge.Merge(ctx, r.Number, string(e.MergeMethod), pr.HeadSHA)
	if err != nil {
		return fmt.Errorf("merging approved #%d: %w", r.Number, err)
	}
	log.InfoContext(ctx, "approved pull request merged", "merge_commit", mc)
	return nil
}

// TeamChecker tells whether a user belongs to a team of the forge.
type TeamChecker interface {
	IsTeamMember(ctx context.Context, org, team, user string) (bool, error)
}

// member returns the team test Satisfied uses; errors count as "not a
// member", so an unreachable team API never merges by accident.
func (a *Approver) member(ctx context.Context) func(team, user string) bool {
	if a.Teams == nil {
		return nil
	}
	return func(team, user string) bool {
		org, slug, ok := strings.Cut(team, "/")
		if !ok {
			return false
		}
		yes, err := a.Teams.IsTeamMember(ctx, org, slug, user)
		if err != nil {
			a.Log.WarnContext(ctx, "checking team membership", "team", team, "user", user, "error", err.Error())
		}
		return err == nil && yes
	}
}

// Satisfied evaluates the approval rule: distinct reviewers whose latest
// review approves headSHA and who are listed by name or belong to a listed
// "org/team" (member may be nil: teams then match nobody).
func Satisfied(e *config.Environment, reviews []forge.Review, headSHA string, member func(team, user string) bool) (bool, string) {
	need := max(e.Approvals, 1)
	latest := map[string]forge.Review{}
	for _, r := range reviews {
		latest[strings.ToLower(r.User)] = r
	}
	listed := func(user string) bool {
		if len(e.Reviewers) == 0 {
			return true
		}
		for _, r := range e.Reviewers {
			if strings.Contains(r, "/") {
				if member != nil && member(r, user) {
					return true
				}
				continue
			}
			if strings.EqualFold(r, user) {
				return true
			}
		}
		return false
	}
	var got []string
	for user, r := range latest {
		if r.State == event.ReviewApproved && r.CommitID == headSHA && listed(user) {
			got = append(got, user)
		}
	}
	if len(got) >= need {
		return true, ""
	}
	return false, fmt.Sprintf("%d of %d approval(s) from %v on %.12s", len(got), need, e.Reviewers, headSHA)
}

// releaseEMF is one production release as an Embedded Metric Format line:
// a deployment with its lead time, or a rollback with its time to restore.
// CloudWatch sums and averages them into deployment frequency, lead time,
// change failure rate (Rollbacks / Deployments) and time to restore.
func releaseEMF(app string, r *state.Release) []byte {
	metrics := []map[string]string{}
	doc := map[string]any{"App": app, "Digest": r.Digest, "TraceId": r.TraceID}
	if r.Rollback {
		metrics = append(metrics, map[string]string{"Name": "Rollbacks", "Unit": "Count"}, map[string]string{"Name": "TimeToRestore", "Unit": "Seconds"})
		doc["Rollbacks"] = 1
		doc["TimeToRestore"] = r.MergedAt.Sub(r.CreatedAt).Seconds()
	} else {
		metrics = append(metrics, map[string]string{"Name": "Deployments", "Unit": "Count"})
		doc["Deployments"] = 1
		if !r.SourceTime.IsZero() {
			metrics = append(metrics, map[string]string{"Name": "LeadTimeForChanges", "Unit": "Seconds"})
			doc["LeadTimeForChanges"] = r.MergedAt.Sub(r.SourceTime).Seconds()
		}
	}
	doc["_aws"] = map[string]any{
		"Timestamp": r.MergedAt.UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace": "Conveyor", "Dimensions": [][]string{{"App"}, {}}, "Metrics": metrics,
		}},
	}
	b, _ := json.Marshal(doc)
	return b
}
