package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/approval"
	"github.com/conveyor-gitops/conveyor/shared/build"
	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/state"
)

// Repair kinds found beyond the GitOps repository's pins.
const (
	// LostMerge: the forge says a promotion pull request merged, the
	// records do not: its merge event was lost. The merge is recorded from
	// the forge (merger, approvers) and promoted onward, as the event
	// would have.
	LostMerge = "lost-merge"
	// OnwardPromotion: an environment runs a merged release whose next
	// environment never heard of its digest: the promotion is enqueued.
	OnwardPromotion = "onward-promotion"
	// Unbuilt: a configured source branch's head has no build record: a
	// push for it is enqueued.
	Unbuilt = "unbuilt"
	// MergeFinished: git pins an automatic environment's proposal whose
	// pull request the forge still shows open (the local forge died
	// between landing the merge and recording it): the merge is finished
	// as the promoter would have finished it.
	MergeFinished = "merge-finished"
)

// Heads returns the head commit of app's configured source branch.
type Heads func(ctx context.Context, app *config.App) (string, error)

// MergedLister lists a forge's merged pull requests.
type MergedLister interface {
	// ListMerged returns up to limit merged pull requests labelled label,
	// the most recent first; a forge that charges per request may look no
	// further back than the limit most recently closed ones.
	ListMerged(ctx context.Context, label string, limit int) ([]*forge.PR, error)
}

// BuildRecords reads build records, and claims each message
// reconciliation enqueues so that the next passes leave it to its queue
// (state.Idempotency).
type BuildRecords interface {
	Get(ctx context.Context, key string) (state.Idem, error)
	Claim(ctx context.Context, key string, lease time.Duration) (state.Idem, bool, error)
}

// RequeueAfter is how long a message reconciliation enqueued is left to
// its queue — retried there, dead-lettered and replayable — before a
// later pass may enqueue it again: a deferred promotion (a freeze) is not
// sent once per pass.
const RequeueAfter = 24 * time.Hour

// Reconciler compares the forge's, the GitOps repository's and the
// sources' truth with Conveyor's records and queues, and repairs what a
// lost event left undone. Every repair is idempotent: the records and the
// queues' dedupe make a second pass, or a late event, change nothing.
type Reconciler struct {
	Config   config.Loader
	Releases state.Releases
	// GitOps reads the base branch's pins.
	GitOps History
	// Forge and Merged are the GitOps repository's forge; Repository its
	// name there, as the approver knows it. Nil Merged skips lost merges.
	Forge      forge.Forge
	Merged     MergedLister
	Repository string
	Promotions queue.Sender
	// Builds, Heads and BuildQueue find and re-enqueue unbuilt commits;
	// any nil skips them. Builds also keeps the claims on what
	// reconciliation enqueued.
	Builds     BuildRecords
	Heads      Heads
	BuildQueue queue.Sender
	// GitHost is the host "owner/name" sources live on, as the builder's.
	GitHost string
	// Limiter bounds reconciliation's forge and git calls (nil: none).
	Limiter *Limiter
	// Settle leaves alone what happened this recently: its events are
	// likely still on their way.
	Settle time.Duration
	// Depth is how many base-branch commits Pins reads back (default 50);
	// Scan how many merged pull requests are read (default 50).
	Depth, Scan int
	// Index, when set, gives the releases written before an index of
	// the store existed their keys in it, before each pass (the
	// DynamoDB store's pull request index; it remembers once done).
	Index Indexer
	Log   *slog.Logger
	Now   func() time.Time
}

// Indexer indexes the releases of apps that an index of the store lacks,
// and returns how many.
type Indexer interface {
	IndexPullRequests(ctx context.Context, apps []string) (int, error)
}

// Repair is one thing reconciliation did (or, dry, would do).
type Repair struct {
	Kind   string `json:"kind"`
	App    string `json:"app"`
	Env    string `json:"env,omitempty"`
	PR     int    `json:"pr,omitempty"`
	Digest string `json:"digest,omitempty"`
	Commit string `json:"commit,omitempty"`
	// Err says why the repair could not be made this time.
	Err string `json:"error,omitempty"`
}

// Report is the outcome of one pass.
type Report struct {
	Repairs []Repair `json:"repairs"`
	// Drifts are the pins that disagreed with the records.
	Drifts []Drift `json:"drifts"`
	// Recorded counts the release records the pins' repairs wrote.
	Recorded int `json:"recorded"`
}

// replayed reports whether this pass replayed a lost merge into app's env,
// which promoted it onward as the event would have.
func (rep *Report) replayed(app, env string) bool {
	for _, p := range rep.Repairs {
		if p.Kind == LostMerge && p.App == app && p.Env == env && p.Err == "" {
			return true
		}
	}
	return false
}

func (r *Reconciler) defaults() {
	if r.Log == nil {
		r.Log = slog.Default()
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	if r.Depth <= 0 {
		r.Depth = 50
	}
	if r.Scan <= 0 {
		r.Scan = 50
	}
}

// Run makes one pass: lost merges first (recorded from the forge, with
// their approvers), then the pins (what git says runs where), then the
// onward promotions and unbuilt commits those leave missing. dryRun
// repairs nothing and reports what it would repair.
func (r *Reconciler) Run(ctx context.Context, dryRun bool) (*Report, error) {
	r.defaults()
	cfg, err := r.Config.Load(ctx)
	if err != nil {
		return nil, err
	}
	rep := &Report{}
	if r.Index != nil && !dryRun {
		r.index(ctx, cfg)
	}
	if err := r.lostMerges(ctx, dryRun, rep); err != nil {
		return rep, err
	}
	if err := r.pins(ctx, cfg, dryRun, rep); err != nil {
		return rep, err
	}
	if err := r.onward(ctx, cfg, dryRun, rep); err != nil {
		return rep, err
	}
	if err := r.unbuilt(ctx, cfg, dryRun, rep); err != nil {
		return rep, err
	}
	return rep, nil
}

// index runs the Indexer over every app. A failure is logged, not
// returned: the records it would index are still read, only slower, and
// the repairs after it matter more; the next pass tries again.
func (r *Reconciler) index(ctx context.Context, cfg *config.Config) {
	apps := make([]string, len(cfg.Apps))
	for i, a := range cfg.Apps {
		apps[i] = a.Name
	}
	n, err := r.Index.IndexPullRequests(ctx, apps)
	switch {
	case err != nil:
		r.Log.WarnContext(ctx, "indexing releases by pull request", "indexed", n, "error", err.Error())
	case n > 0:
		r.Log.InfoContext(ctx, "indexed releases by pull request", "indexed", n)
	}
}

func (r *Reconciler) approver() *approval.Approver {
	return &approval.Approver{Config: r.Config, Releases: r.Releases, Forge: Limit(r.Forge, r.Limiter), Promotions: r.Promotions,
		Log: r.Log, Now: r.Now, Repository: r.Repository}
}

// log writes one repair line and keeps it in the report.
func (r *Reconciler) log(ctx context.Context, rep *Report, p Repair, dryRun bool, err error) {
	if err != nil {
		p.Err = err.Error()
	}
	rep.Repairs = append(rep.Repairs, p)
	attrs := []any{"kind", p.Kind, "app", p.App, "env", p.Env, "pr", p.PR, "digest", p.Digest, "commit", p.Commit, "dry_run", dryRun}
	if err != nil {
		r.Log.WarnContext(ctx, "repair", append(attrs, "error", err.Error())...)
		return
	}
	r.Log.InfoContext(ctx, "repair", attrs...)
}

// lostMerges replays, through the approver, the merge of every merged
// promotion pull request that no merged record names.
func (r *Reconciler) lostMerges(ctx context.Context, dryRun bool, rep *Report) error {
	if r.Merged == nil || r.Forge == nil {
		return nil
	}
	if err := r.Limiter.Wait(ctx); err != nil {
		return err
	}
	prs, err := r.Merged.ListMerged(ctx, approval.Label, r.Scan)
	if err != nil {
		return err
	}
	rels, err := r.Releases.ListReleases(ctx, state.ReleaseFilter{State: state.Merged})
	if err != nil {
		return err
	}
	recorded := map[int]bool{}
	for _, rel := range rels {
		recorded[rel.PR] = true
	}
	for _, pr := range prs {
		env, app, ok := approval.ParseBranch(pr.Branch)
		if !ok || recorded[pr.Number] || r.recent(pr.MergedAt) {
			continue
		}
		p := Repair{Kind: LostMerge, App: app, Env: env, PR: pr.Number, Commit: pr.MergeCommit}
		if dryRun {
			r.log(ctx, rep, p, true, nil)
			continue
		}
		ev := event.Review{Action: event.ReviewMerged, Repository: r.Repository, Number: pr.Number, HeadRef: pr.Branch,
			HeadSHA: pr.HeadSHA, BaseRef: pr.Base, Labels: pr.Labels, MergeCommit: pr.MergeCommit, MergedBy: pr.MergedBy, At: pr.MergedAt}
		err := r.approver().Handle(ctx, ev)
		if err == nil {
			err = r.markOnward(ctx, app, env, pr.Number)
		}
		r.log(ctx, rep, p, false, err)
	}
	return nil
}

// markOnward claims the onward promotion the approver just enqueued for
// the merge of pull request number, so that the onward pass does not send
// it again while it waits in the queue.
func (r *Reconciler) markOnward(ctx context.Context, app, env string, number int) error {
	cfg, err := r.Config.Load(ctx)
	if err != nil {
		return err
	}
	a, ok := cfg.App(app)
	if !ok {
		return nil
	}
	next, ok := a.NextEnv(env)
	if !ok {
		return nil
	}
	rels, err := r.Releases.ListReleases(ctx, state.ReleaseFilter{App: app, Env: env, State: state.Merged})
	if err != nil {
		return err
	}
	for _, rel := range rels {
		if rel.PR == number {
			_, err := r.once(ctx, onwardKey(app, next.Name, rel.Digest))
			return err
		}
	}
	return nil
}

func onwardKey(app, env, digest string) string {
	return "reconcile/promote/" + app + "/" + env + "/" + digest
}

// pins records what the base branch pins where the records disagree.
func (r *Reconciler) pins(ctx context.Context, cfg *config.Config, dryRun bool, rep *Report) error {
	if r.GitOps == nil {
		return nil
	}
	pins, err := Pins(ctx, r.GitOps, cfg, r.Depth)
	if err != nil {
		return err
	}
	rels, err := r.Releases.ListReleases(ctx, state.ReleaseFilter{})
	if err != nil {
		return err
	}
	rep.Drifts = Compare(cfg, pins, rels)
	var due []Drift
	for _, d := range rep.Drifts {
		// A pin this fresh is most likely a merge whose event is on its
		// way, and the event records more (the approvers, the merger).
		if d.Repair == "" || r.recent(d.At) {
			continue
		}
		due = append(due, d)
		r.log(ctx, rep, Repair{Kind: d.Repair, App: d.App, Env: d.Env, Digest: d.Digest, Commit: d.Commit}, dryRun, nil)
	}
	if dryRun {
		return nil
	}
	if rep.Recorded, err = Apply(ctx, r.Releases, due); err != nil {
		return err
	}
	for _, d := range due {
		if d.Repair == MergeRecorded && d.Release.PR > 0 {
			r.finishMerge(ctx, cfg, d.Release, rep)
		}
	}
	return nil
}

// finishMerge merges the still-open pull request of rel, whose content
// the base branch already holds, when its environment releases
// automatically: a manual environment's pull request is left to its
// reviewers.
func (r *Reconciler) finishMerge(ctx context.Context, cfg *config.Config, rel *state.Release, rep *Report) {
	if r.Forge == nil {
		return
	}
	a, ok := cfg.App(rel.App)
	if !ok {
		return
	}
	e, _, ok := a.Env(rel.Env)
	if !ok || e.Release != config.ReleaseAuto {
		return
	}
	f := Limit(r.Forge, r.Limiter)
	pr, err := f.Get(ctx, rel.PR)
	if err != nil || pr.State != forge.StateOpen || (rel.HeadSHA != "" && pr.HeadSHA != rel.HeadSHA) {
		return
	}
	_, err = f.Merge(ctx, rel.PR, forge.MergeOptions{Method: string(e.MergeMethod), HeadSHA: rel.HeadSHA})
	r.log(ctx, rep, Repair{Kind: MergeFinished, App: rel.App, Env: rel.Env, PR: rel.PR, Digest: rel.Digest}, false, err)
}

// onward enqueues, through the approver, the next environment's promotion
// of each environment's current release when the next environment has no
// record of its digest at all.
func (r *Reconciler) onward(ctx context.Context, cfg *config.Config, dryRun bool, rep *Report) error {
	if r.Promotions == nil || r.Forge == nil {
		return nil
	}
	for i := range cfg.Apps {
		a := &cfg.Apps[i]
		rels, err := r.Releases.ListReleases(ctx, state.ReleaseFilter{App: a.Name})
		if err != nil {
			return err
		}
		for j := range a.Environments[:max(len(a.Environments)-1, 0)] {
			env, next := a.Environments[j].Name, a.Environments[j+1].Name
			cur := current(rels, env)
			if cur == nil || cur.Rollback || r.recent(cur.MergedAt) || known(rels, next, cur.Digest) || rep.replayed(a.Name, env) {
				continue
			}
			p := Repair{Kind: OnwardPromotion, App: a.Name, Env: next, PR: cur.PR, Digest: cur.Digest}
			if dryRun {
				r.log(ctx, rep, p, true, nil)
				continue
			}
			if first, err := r.once(ctx, onwardKey(a.Name, next, cur.Digest)); err != nil || !first {
				if err != nil {
					return err
				}
				continue
			}
			r.log(ctx, rep, p, false, r.approver().Onward(ctx, cur))
		}
	}
	return nil
}

// current is the merged release env runs by the records: the newest merge,
// as the approver orders them.
func current(rels []state.Release, env string) *state.Release {
	var cur *state.Release
	for i := range rels {
		x := &rels[i]
		if x.Env == env && x.State == state.Merged && (cur == nil || x.MergedAt.After(cur.MergedAt) ||
			(x.MergedAt.Equal(cur.MergedAt) && x.UpdatedAt.After(cur.UpdatedAt))) {
			cur = x
		}
	}
	return cur
}

// known reports whether env has any record of digest: proposed, merged,
// skipped, rejected or superseded, the promotion happened.
func known(rels []state.Release, env, digest string) bool {
	for _, x := range rels {
		if x.Env == env && x.Digest == digest {
			return true
		}
	}
	return false
}

// unbuilt enqueues a push for each app's source branch head that has no
// build record, claimed or completed.
func (r *Reconciler) unbuilt(ctx context.Context, cfg *config.Config, dryRun bool, rep *Report) error {
	if r.Builds == nil || r.Heads == nil || r.BuildQueue == nil {
		return nil
	}
	for i := range cfg.Apps {
		a := &cfg.Apps[i]
		if err := r.Limiter.Wait(ctx); err != nil {
			return err
		}
		sha, err := r.Heads(ctx, a)
		if err != nil {
			r.log(ctx, rep, Repair{Kind: Unbuilt, App: a.Name}, dryRun, fmt.Errorf("reading the source branch head: %w", err))
			continue
		}
		rec, err := r.Builds.Get(ctx, build.Key(a.Name, sha))
		switch {
		case err == nil && (rec.Status == state.Completed || rec.ExpiresAt.After(r.Now())):
			continue
		case err != nil && !errors.Is(err, state.ErrNotFound):
			return err
		}
		p := Repair{Kind: Unbuilt, App: a.Name, Commit: sha}
		if dryRun {
			r.log(ctx, rep, p, true, nil)
			continue
		}
		if first, err := r.once(ctx, "reconcile/"+build.Key(a.Name, sha)); err != nil || !first {
			if err != nil {
				return err
			}
			continue
		}
		r.log(ctx, rep, p, false, r.enqueueBuild(ctx, a, sha))
	}
	return nil
}

// enqueueBuild sends the push a webhook would have carried for sha: it
// names the configured source, which is where the builder takes code from
// anyway.
func (r *Reconciler) enqueueBuild(ctx context.Context, a *config.App, sha string) error {
	p := event.Push{Repository: a.Source.Repo, CloneURL: a.Source.Location(r.GitHost), Ref: "refs/heads/" + a.Source.Branch,
		Branch: a.Source.Branch, After: sha}
	env, err := event.New(event.KindPush, "conveyor-reconcile", fmt.Sprintf("reconcile:%s:%s", a.Name, sha), "", p, r.Now())
	if err != nil {
		return err
	}
	if _, err := queue.SendEnvelope(ctx, r.BuildQueue, env, "", "", a.Name); err != nil {
		return fmt.Errorf("enqueueing the build of %s at %.12s: %w", a.Name, sha, err)
	}
	return nil
}

// once claims key for RequeueAfter: true the first time, so that one
// missing message is enqueued once however often reconciliation runs.
// Without a store for the claims, every pass enqueues (the queues' dedupe
// and the handlers' idempotency still hold).
func (r *Reconciler) once(ctx context.Context, key string) (bool, error) {
	if r.Builds == nil {
		return true, nil
	}
	_, first, err := r.Builds.Claim(ctx, key, RequeueAfter)
	return first, err
}

func (r *Reconciler) recent(t time.Time) bool {
	return r.Settle > 0 && !t.IsZero() && r.Now().Sub(t) < r.Settle
}
