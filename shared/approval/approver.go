package approval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/consume"
	"github.com/conveyor-gitops/conveyor/shared/crashpoint"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/logging"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/retention"
	"github.com/conveyor-gitops/conveyor/shared/retry"
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
	Log        *slog.Logger
	Now        func() time.Time
	// Repository is the GitOps repository as the forge names it
	// ("owner/name"; the local forge's name, "local/gitops"). Events from
	// any other repository are ignored, whatever they carry.
	Repository string
	// Teams resolves "org/team" reviewers (nil: only users listed by
	// name count).
	Teams TeamChecker
	// Metrics receives one CloudWatch Embedded Metric Format line per
	// production release (stdout in Lambda, where CloudWatch turns it into
	// the DORA metrics); nil writes none.
	Metrics io.Writer
	// Protect, when set, points an environment's release tags at its
	// current and previous releases (retention.Protect for image) after
	// each merge, so a registry lifecycle rule keeping release-* never
	// deletes what the environment runs or may roll back to. A failure is
	// logged (release_unprotected) and does not hold the merge's onward
	// promotion: the next merge, or a redelivery, protects again.
	Protect func(ctx context.Context, image, env string, digests []string) error
	// KeepPrevious is how many earlier releases stay protected
	// (retention.DefaultPrevious when 0).
	KeepPrevious int
}

// Label marks Conveyor's promotion pull requests.
const Label = "conveyor"

// Func returns the approvals queue's message function.
func (a *Approver) Func() consume.Func {
	a.defaults()
	return func(ctx context.Context, env *event.Envelope) error {
		if err := consume.Expect(env, event.KindReview); err != nil {
			return err
		}
		var r event.Review
		if err := env.DecodePayload(&r); err != nil {
			return retry.Permanent(err)
		}
		return a.Handle(ctx, r)
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

// target is a promotion pull request as the forge, not the event, tells it.
type target struct {
	pr       *forge.PR
	app, env string
	appCfg   *config.App
	envCfg   *config.Environment
}

// Handle processes one review event. An event is a hint, never a fact:
// only events from the GitOps repository are considered, and what they
// claim is read back from the forge (the pull request's branch, label,
// base, state and head) before anything is recorded, merged or promoted.
// Events about pull requests Conveyor did not open are ignored.
func (a *Approver) Handle(ctx context.Context, r event.Review) error {
	a.defaults()
	if a.Repository == "" {
		return retry.Permanent(errors.New("handling a review event: the approver has no GitOps repository configured"))
	}
	log := a.Log.With("pr", r.Number, "action", r.Action, "repository", r.Repository)
	if !strings.EqualFold(r.Repository, a.Repository) {
		log.WarnContext(ctx, "event from another repository than the GitOps one: ignored", "gitops", a.Repository)
		return nil
	}
	switch r.Action {
	case event.ReviewMerged, event.ReviewClosed, event.ReviewApproved:
	default:
		log.DebugContext(ctx, "nothing to do for this action")
		return nil
	}
	if _, _, ok := ParseBranch(r.HeadRef); !ok {
		log.DebugContext(ctx, "not a Conveyor pull request: ignored", "branch", r.HeadRef)
		return nil
	}
	t, err := a.confirm(ctx, r, log)
	if err != nil || t == nil {
		return err
	}
	log = log.With("app", t.app, "env", t.env)
	switch r.Action {
	case event.ReviewMerged:
		return a.merged(ctx, r, t, log)
	case event.ReviewClosed:
		return a.closed(ctx, t, log)
	default:
		return a.approved(ctx, r, t, log)
	}
}

// confirm reads the pull request from the forge and returns it with its
// app and environment, or nil when it is not one of Conveyor's promotion
// pull requests into the GitOps branch.
func (a *Approver) confirm(ctx context.Context, r event.Review, log *slog.Logger) (*target, error) {
	pr, err := a.Forge.Get(ctx, r.Number)
	if errors.Is(err, forge.ErrNotFound) {
		log.WarnContext(ctx, "the forge has no such pull request: event ignored")
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading #%d from the forge: %w", r.Number, err)
	}
	env, app, ok := ParseBranch(pr.Branch)
	switch {
	case !ok:
		log.WarnContext(ctx, "the pull request's branch is not a promotion branch: event ignored", "branch", pr.Branch, "event_branch", r.HeadRef)
		return nil, nil
	case !slices.Contains(pr.Labels, Label):
		log.WarnContext(ctx, "the pull request lacks the conveyor label: event ignored", "labels", pr.Labels)
		return nil, nil
	case pr.HeadRepo != "" && !strings.EqualFold(pr.HeadRepo, a.Repository):
		log.WarnContext(ctx, "the pull request's head is in another repository: event ignored", "head_repo", pr.HeadRepo)
		return nil, nil
	}
	cfg, err := a.Config.Load(ctx)
	if err != nil {
		return nil, err
	}
	if pr.Base != cfg.GitOps.Branch {
		log.WarnContext(ctx, "the pull request does not target the GitOps branch: event ignored", "base", pr.Base, "gitops_branch", cfg.GitOps.Branch)
		return nil, nil
	}
	t := &target{pr: pr, app: app, env: env}
	t.appCfg, ok = cfg.App(app)
	if ok {
		t.envCfg, _, ok = t.appCfg.Env(env)
	}
	if !ok {
		if r.Action == event.ReviewMerged {
			// A real merge that cannot be placed: keep it visible.
			return nil, retry.Permanent(fmt.Errorf("recording the merge of #%d: %s/%s is not in conveyor.yaml", pr.Number, app, env))
		}
		log.WarnContext(ctx, "app or environment no longer in conveyor.yaml: event ignored", "app", app, "env", env)
		return nil, nil
	}
	return t, nil
}

// proposal finds the release pull request number proposed at head: the
// record written with that head, or, for records written before heads were
// kept, the newest that was not superseded. None yet is retryable: the
// promoter pushes the branch before it writes the record.
func (a *Approver) proposal(ctx context.Context, app, env string, number int, head string) (*state.Release, error) {
	rels, err := a.Releases.ListReleases(ctx, state.ReleaseFilter{App: app, Env: env})
	if err != nil {
		return nil, err
	}
	var match, legacy *state.Release
	for i := range rels {
		r := &rels[i]
		switch {
		case r.PR != number:
		case head != "" && r.HeadSHA == head:
			if match == nil || r.State == state.Merged || (match.State != state.Merged && r.UpdatedAt.After(match.UpdatedAt)) {
				match = r
			}
		case r.HeadSHA == "" && r.State != state.Superseded:
			if legacy == nil || r.State == state.Merged || (legacy.State != state.Merged && r.UpdatedAt.After(legacy.UpdatedAt)) {
				legacy = r
			}
		}
	}
	if match != nil {
		return match, nil
	}
	if legacy != nil {
		return legacy, nil
	}
	return nil, fmt.Errorf("no release of %s/%s was proposed in #%d at head %.12s (yet)", app, env, number, head)
}

func (a *Approver) merged(ctx context.Context, r event.Review, t *target, log *slog.Logger) error {
	pr := t.pr
	if pr.State != forge.StateMerged || pr.MergeCommit == "" {
		log.WarnContext(ctx, "the forge does not say the pull request merged: event ignored", "forge_state", pr.State)
		return nil
	}
	rel, err := a.proposal(ctx, t.app, t.env, pr.Number, pr.HeadSHA)
	if err != nil {
		// The merge may have overtaken the promoter's record; retry.
		return err
	}
	if rel.State != state.Merged {
		if err := a.record(ctx, r, t, rel); err != nil {
			return err
		}
		log.InfoContext(ctx, "release recorded", "digest", rel.Digest, "merged_by", rel.MergedBy, "approved_by", rel.ApprovedBy,
			"merge_commit", rel.MergeCommit, "override", rel.Override)
		if last := t.appCfg.Environments[len(t.appCfg.Environments)-1].Name; last == t.env && a.Metrics != nil {
			a.Metrics.Write(append(releaseEMF(t.app, rel), '\n'))
		}
	}
	if err := a.protect(ctx, t.appCfg, t.env); err != nil {
		log.ErrorContext(ctx, "release_unprotected: a registry lifecycle rule could delete it", "error", err.Error())
	}
	return a.onward(ctx, pr.Number, rel, t.appCfg, t.envCfg, log)
}

// protect protects env's current and previous releases of app.
func (a *Approver) protect(ctx context.Context, app *config.App, env string) error {
	if a.Protect == nil {
		return nil
	}
	rels, err := a.Releases.ListReleases(ctx, state.ReleaseFilter{App: app.Name, Env: env})
	if err != nil {
		return err
	}
	keep := a.KeepPrevious
	if keep == 0 {
		keep = retention.DefaultPrevious
	}
	if err := a.Protect(ctx, app.Image, env, retention.Targets(rels, keep)); err != nil {
		return fmt.Errorf("protecting the releases of %s/%s: %w", app.Name, env, err)
	}
	return nil
}

// Onward enqueues the promotion of merged release rel to the environment
// after its own, exactly as its merge event would have (same envelope id,
// group and dedupe id), when the records allow it: for reconciliation,
// which finds merges whose onward promotion never happened.
func (a *Approver) Onward(ctx context.Context, rel *state.Release) error {
	a.defaults()
	if rel.State != state.Merged {
		return fmt.Errorf("promoting %s onward: it is %s, not merged", rel.ID, rel.State)
	}
	cfg, err := a.Config.Load(ctx)
	if err != nil {
		return err
	}
	appCfg, ok := cfg.App(rel.App)
	if !ok {
		return nil
	}
	envCfg, _, ok := appCfg.Env(rel.Env)
	if !ok {
		return nil
	}
	return a.onward(ctx, rel.PR, rel, appCfg, envCfg, a.Log.With("pr", rel.PR, "app", rel.App, "env", rel.Env))
}

// onward promotes merged release rel (merged through pull request number)
// to the next environment.
func (a *Approver) onward(ctx context.Context, number int, rel *state.Release, appCfg *config.App, envCfg *config.Environment, log *slog.Logger) error {
	if rel.Rollback {
		// A rollback restores one environment; it is not promoted onward.
		return nil
	}
	next, ok := appCfg.NextEnv(rel.Env)
	if !ok {
		log.InfoContext(ctx, "last environment released", "digest", rel.Digest)
		return nil
	}
	if onward, why, err := a.promotesOnward(ctx, rel, next.Name); err != nil || !onward {
		if err == nil {
			log.InfoContext(ctx, "merge recorded; not promoted onward", "digest", rel.Digest, "next", next.Name, "why", why)
		}
		return err
	}
	if envCfg.Verify {
		passed, err := a.Forge.ChecksPassed(ctx, rel.MergeCommit)
		if err != nil {
			return err
		}
		if !passed {
			return retry.Defer(fmt.Errorf("verify: checks of %.12s in %s are not green yet", rel.MergeCommit, rel.Env), time.Minute)
		}
	}
	return a.enqueue(ctx, number, rel, appCfg.Name, next.Name, log)
}

// record writes the merge as the forge tells it: merge commit, merger,
// merge time, the head's approvers and any override.
func (a *Approver) record(ctx context.Context, r event.Review, t *target, rel *state.Release) error {
	pr := t.pr
	reviews, err := a.Forge.Reviews(ctx, pr.Number)
	if err != nil {
		return fmt.Errorf("reading the reviews of #%d: %w", pr.Number, err)
	}
	rel.State, rel.MergeCommit, rel.MergedBy, rel.Override = state.Merged, pr.MergeCommit, pr.MergedBy, pr.Override
	rel.ApprovedBy = Approvals(reviews, pr.HeadSHA)
	if rel.HeadSHA == "" {
		rel.HeadSHA = pr.HeadSHA
	}
	rel.MergedAt = pr.MergedAt
	if rel.MergedAt.IsZero() {
		rel.MergedAt = r.At
	}
	if rel.MergedAt.IsZero() {
		rel.MergedAt = a.Now().UTC()
	}
	crashpoint.Hit(crashpoint.BeforeStateWrite)
	if err := a.Releases.PutRelease(ctx, rel); err != nil {
		return fmt.Errorf("recording the merge of #%d: %w", pr.Number, err)
	}
	return nil
}

// promotesOnward judges a merge against the records rather than obeying
// it: the merged release must still be what its environment runs (a
// replayed old merge is not), and the next environment must never have
// had the digest merged (one released there and rolled away comes back
// only by an operator's hand).
func (a *Approver) promotesOnward(ctx context.Context, rel *state.Release, next string) (bool, string, error) {
	rels, err := a.Releases.ListReleases(ctx, state.ReleaseFilter{App: rel.App})
	if err != nil {
		return false, "", err
	}
	var cur *state.Release
	for i := range rels {
		r := &rels[i]
		if r.Env == next && r.State == state.Merged && r.Digest == rel.Digest {
			return false, "the digest was released to " + next + " before", nil
		}
		if r.Env == rel.Env && r.State == state.Merged && (cur == nil || r.MergedAt.After(cur.MergedAt) ||
			(r.MergedAt.Equal(cur.MergedAt) && r.UpdatedAt.After(cur.UpdatedAt))) {
			cur = r
		}
	}
	if cur == nil || cur.ID != rel.ID {
		return false, "the environment no longer runs this release", nil
	}
	return true, "", nil
}

func (a *Approver) enqueue(ctx context.Context, number int, rel *state.Release, app, next string, log *slog.Logger) error {
	p := event.Promotion{App: app, Environment: next, Image: rel.Image, Digest: rel.Digest, Tag: rel.Tag,
		Source: rel.SourceRepo, Revision: rel.SourceCommit, Created: rel.SourceTime, From: rel.Env}
	trace := rel.TraceID
	if trace == "" {
		trace = logging.Trace(ctx)
	}
	out, err := event.New(event.KindPromotion, "conveyor", fmt.Sprintf("merged:%s:%d", a.Repository, number), trace, p, a.Now())
	if err != nil {
		return err
	}
	if _, err := queue.SendEnvelope(ctx, a.Promotions, out, p.GroupID(), p.DedupeID(), p.App); err != nil {
		return fmt.Errorf("enqueueing the promotion of %s to %s: %w", app, next, err)
	}
	log.InfoContext(ctx, "next environment promotion enqueued", "next", next, "digest", rel.Digest)
	return nil
}

func (a *Approver) closed(ctx context.Context, t *target, log *slog.Logger) error {
	if t.pr.State != forge.StateClosed {
		log.WarnContext(ctx, "the forge does not say the pull request closed unmerged: event ignored", "forge_state", t.pr.State)
		return nil
	}
	rel, err := a.proposal(ctx, t.app, t.env, t.pr.Number, t.pr.HeadSHA)
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
// freeze window open, and green checks when the environment verifies. The
// merge commit names the approvers.
func (a *Approver) approved(ctx context.Context, r event.Review, t *target, log *slog.Logger) error {
	e, pr := t.envCfg, t.pr
	if e.Release != config.ReleaseManual || pr.State != forge.StateOpen {
		return nil
	}
	reviews, err := a.Forge.Reviews(ctx, pr.Number)
	if err != nil {
		return err
	}
	member := memberOf(ctx, a.Teams, a.Log)
	ok, why := Satisfied(e, reviews, pr.HeadSHA, member)
	if !ok {
		a.noteApprovals(ctx, t, counted(e, reviews, pr.HeadSHA, member), log)
		log.InfoContext(ctx, "approval recorded; policy not yet satisfied", "reviewer", r.Reviewer, "why", why)
		return nil
	}
	if frozen, until := e.Frozen(a.Now()); frozen {
		return retry.Defer(fmt.Errorf("%s is frozen until %s: the merge waits", t.env, until.Format(time.RFC3339)), until.Sub(a.Now()))
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
	msg := fmt.Sprintf("Approved-by: %s\nRelease policy: %s/%s, %d approval(s) on %s", strings.Join(counted(e, reviews, pr.HeadSHA, member), ", "),
		t.app, t.env, max(e.Approvals, 1), pr.HeadSHA)
	mc, err := a.Forge.Merge(ctx, pr.Number, forge.MergeOptions{Method: string(e.MergeMethod), HeadSHA: pr.HeadSHA, Message: msg})
	if err != nil {
		return fmt.Errorf("merging approved #%d: %w", pr.Number, err)
	}
	log.InfoContext(ctx, "approved pull request merged", "merge_commit", mc)
	return nil
}

// noteApprovals keeps on the open proposal's record who has approved its
// current head so far, so the board can say "1 of 2". It is for display
// only — the forge's reviews decide a merge — so a lost race with another
// writer (ErrConflict) or a record not written yet is left to the next
// review rather than retried.
func (a *Approver) noteApprovals(ctx context.Context, t *target, got []string, log *slog.Logger) {
	rel, err := a.proposal(ctx, t.app, t.env, t.pr.Number, t.pr.HeadSHA)
	if err != nil || rel.State != state.Proposed || slices.Equal(rel.ApprovedBy, got) {
		return
	}
	rel.ApprovedBy = got
	if err := a.Releases.PutRelease(ctx, rel); err != nil {
		log.DebugContext(ctx, "approvals so far not recorded", "err", err)
	}
}

// Protection is the release policy as a merge check, for a forge that does
// not enforce it itself as GitHub's branch protection does (the local
// forge): a pull request into a manual environment merges only with the
// approvals Satisfied asks for on its current head.
func Protection(cfg ConfigSource, teams TeamChecker, log *slog.Logger) func(ctx context.Context, pr *forge.PR, reviews []forge.Review) error {
	return func(ctx context.Context, pr *forge.PR, reviews []forge.Review) error {
		env, app, ok := ParseBranch(pr.Branch)
		if !ok {
			return fmt.Errorf("%s is not a promotion branch: no release policy allows it", pr.Branch)
		}
		c, err := cfg.Load(ctx)
		if err != nil {
			return err
		}
		appCfg, ok := c.App(app)
		if !ok {
			return fmt.Errorf("app %q is not in conveyor.yaml", app)
		}
		e, _, ok := appCfg.Env(env)
		if !ok {
			return fmt.Errorf("app %s has no environment %q", app, env)
		}
		if e.Release != config.ReleaseManual {
			return nil
		}
		if ok, why := Satisfied(e, reviews, pr.HeadSHA, memberOf(ctx, teams, log)); !ok {
			return fmt.Errorf("%s/%s is released manually and #%d is not approved: %s", app, env, pr.Number, why)
		}
		return nil
	}
}

// TeamChecker tells whether a user belongs to a team of the forge.
type TeamChecker interface {
	IsTeamMember(ctx context.Context, org, team, user string) (bool, error)
}

// memberOf returns the team test Satisfied uses; errors count as "not a
// member", so an unreachable team API never merges by accident.
func memberOf(ctx context.Context, teams TeamChecker, log *slog.Logger) func(team, user string) bool {
	if teams == nil {
		return nil
	}
	if log == nil {
		log = slog.Default()
	}
	return func(team, user string) bool {
		org, slug, ok := strings.Cut(team, "/")
		if !ok {
			return false
		}
		yes, err := teams.IsTeamMember(ctx, org, slug, user)
		if err != nil {
			log.WarnContext(ctx, "checking team membership", "team", team, "user", user, "error", err.Error())
		}
		return err == nil && yes
	}
}

// latest returns each reviewer's latest review, by lower-cased login.
func latest(reviews []forge.Review) map[string]forge.Review {
	out := map[string]forge.Review{}
	for _, r := range reviews {
		out[strings.ToLower(r.User)] = r
	}
	return out
}

// Approvals lists, sorted, the reviewers whose latest review approves
// headSHA, listed or not: who approved the head that merged.
func Approvals(reviews []forge.Review, headSHA string) []string {
	var out []string
	for _, r := range latest(reviews) {
		if r.State == event.ReviewApproved && r.CommitID == headSHA {
			out = append(out, r.User)
		}
	}
	sort.Strings(out)
	return out
}

// counted lists, sorted, the approvals of headSHA that the policy counts:
// from reviewers listed by name or through a listed team.
func counted(e *config.Environment, reviews []forge.Review, headSHA string, member func(team, user string) bool) []string {
	listed := func(user string) bool {
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
	var out []string
	for _, user := range Approvals(reviews, headSHA) {
		if listed(user) {
			out = append(out, user)
		}
	}
	return out
}

// Counted lists, sorted, the approvals of headSHA the policy counts so far
// (listed reviewers, and members of listed teams as teams answers): what
// Satisfied weighs, for a command that says why a pull request waits.
func Counted(ctx context.Context, e *config.Environment, reviews []forge.Review, headSHA string, teams TeamChecker) []string {
	return counted(e, reviews, headSHA, memberOf(ctx, teams, nil))
}

// Satisfied evaluates the approval rule: distinct reviewers whose latest
// review approves headSHA and who are listed by name or belong to a listed
// "org/team" (member may be nil: teams then match nobody). An environment
// that lists no reviewers is never satisfied: nobody is not anybody.
func Satisfied(e *config.Environment, reviews []forge.Review, headSHA string, member func(team, user string) bool) (bool, string) {
	if len(e.Reviewers) == 0 {
		return false, fmt.Sprintf("%s lists no reviewers, so no approval counts", e.Name)
	}
	need := max(e.Approvals, 1)
	got := counted(e, reviews, headSHA, member)
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
	doc := map[string]any{"App": app, "Digest": r.Digest, "TraceId": r.TraceID, "MergedBy": r.MergedBy,
		"ApprovedBy": nonNil(r.ApprovedBy)}
	if r.Override != "" {
		doc["Override"] = r.Override
	}
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

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
