package localforge

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/gitops"
	"github.com/conveyor-gitops/conveyor/shared/logging"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/retry"
	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

var schema = []string{
	`CREATE TABLE IF NOT EXISTS local_prs (
		number INTEGER PRIMARY KEY AUTOINCREMENT,
		repo TEXT NOT NULL,
		branch TEXT NOT NULL,
		base TEXT NOT NULL,
		title TEXT NOT NULL,
		body TEXT NOT NULL,
		labels TEXT NOT NULL DEFAULT '[]',
		reviewers TEXT NOT NULL DEFAULT '[]',
		state TEXT NOT NULL,
		merge_commit TEXT NOT NULL DEFAULT '',
		merged_by TEXT NOT NULL DEFAULT '',
		head_sha TEXT NOT NULL DEFAULT '',
		override TEXT NOT NULL DEFAULT '',
		created_at INTEGER NOT NULL,
		updated_at INTEGER NOT NULL,
		merged_at INTEGER NOT NULL DEFAULT 0
	)`,
	`CREATE INDEX IF NOT EXISTS local_prs_branch ON local_prs(repo, branch, state)`,
	`CREATE TABLE IF NOT EXISTS local_pr_reviews (
		repo TEXT NOT NULL,
		number INTEGER NOT NULL,
		user TEXT NOT NULL,
		state TEXT NOT NULL,
		commit_id TEXT NOT NULL,
		at INTEGER NOT NULL
	)`,
}

// columnsAdded are the columns later versions added to local_prs, for
// databases created before them.
var columnsAdded = []string{
	`head_sha TEXT NOT NULL DEFAULT ''`,
	`override TEXT NOT NULL DEFAULT ''`,
}

// Forge is the local forge over one GitOps repository on disk.
type Forge struct {
	db      *sqlitedb.DB
	repo    *gitops.Repo
	dir     string
	name    string
	events  queue.Sender
	now     func() time.Time
	protect Protection
}

var _ forge.Forge = (*Forge)(nil)

// Protection decides whether pull request pr, with its submitted reviews,
// may merge now, as a protected branch does on GitHub: an error refuses the
// merge and says why.
type Protection func(ctx context.Context, pr *forge.PR, reviews []forge.Review) error

// Option configures a Forge.
type Option func(*Forge)

// WithProtection guards every merge with p, unless the merge carries an
// explicit override (WithOverride). Without it every merge is allowed.
func WithProtection(p Protection) Option { return func(f *Forge) { f.protect = p } }

// New opens the local forge of the GitOps repository at dir (a local path
// or file:// URL) whose base branch is base. name identifies the
// repository in events ("local/gitops"); events is the approvals queue.
func New(ctx context.Context, db *sqlitedb.DB, repo *gitops.Repo, dir, name string, events queue.Sender, opts ...Option) (*Forge, error) {
	if err := db.Migrate(ctx, schema...); err != nil {
		return nil, err
	}
	if err := db.AddColumns(ctx, "local_prs", columnsAdded...); err != nil {
		return nil, err
	}
	f := &Forge{db: db, repo: repo, dir: strings.TrimPrefix(dir, "file://"), name: name, events: events, now: time.Now}
	for _, o := range opts {
		o(f)
	}
	return f, nil
}

// Dir is the repository's path.
func (f *Forge) Dir() string { return f.dir }

// Name is the repository's name in events and pull requests ("local/gitops").
func (f *Forge) Name() string { return f.name }

const columns = `number, branch, base, title, body, labels, state, merge_commit, merged_by, head_sha, override, created_at, merged_at`

func (f *Forge) scan(ctx context.Context, row interface{ Scan(...any) error }) (*forge.PR, error) {
	var pr forge.PR
	var labels string
	var created, merged int64
	if err := row.Scan(&pr.Number, &pr.Branch, &pr.Base, &pr.Title, &pr.Body, &labels, &pr.State, &pr.MergeCommit, &pr.MergedBy, &pr.HeadSHA, &pr.Override, &created, &merged); err != nil {
		return nil, err
	}
	_ = json.Unmarshal([]byte(labels), &pr.Labels)
	pr.CreatedAt = time.UnixMilli(created).UTC()
	if merged > 0 {
		pr.MergedAt = time.UnixMilli(merged).UTC()
	}
	pr.URL = fmt.Sprintf("conveyor pr show %d", pr.Number)
	pr.HeadRepo = f.name
	// An open pull request's head is its branch's tip now; a finished
	// one's is the head it was merged or closed at.
	if pr.State == forge.StateOpen {
		head, err := f.branchHead(pr.Branch)
		if err != nil {
			return nil, err
		}
		pr.HeadSHA = head
		ok := head != ""
		pr.Mergeable = &ok
	}
	return &pr, nil
}

// FindOpen implements forge.Forge.
func (f *Forge) FindOpen(ctx context.Context, branch string) (*forge.PR, error) {
	row := f.db.SQL().QueryRowContext(ctx, `SELECT `+columns+` FROM local_prs WHERE repo = ? AND branch = ? AND state = ? ORDER BY number DESC LIMIT 1`,
		f.name, branch, forge.StateOpen)
	pr, err := f.scan(ctx, row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("open pull request for %s: %w", branch, forge.ErrNotFound)
	}
	return pr, err
}

// Get implements forge.Forge.
func (f *Forge) Get(ctx context.Context, number int) (*forge.PR, error) {
	row := f.db.SQL().QueryRowContext(ctx, `SELECT `+columns+` FROM local_prs WHERE repo = ? AND number = ?`, f.name, number)
	pr, err := f.scan(ctx, row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, retry.Permanent(fmt.Errorf("pull request #%d: %w", number, forge.ErrNotFound))
	}
	return pr, err
}

// List returns the pull requests in state ("" for all), newest first.
func (f *Forge) List(ctx context.Context, state string) ([]*forge.PR, error) {
	q := `SELECT ` + columns + ` FROM local_prs WHERE repo = ?`
	args := []any{f.name}
	if state != "" {
		q += ` AND state = ?`
		args = append(args, state)
	}
	rows, err := f.db.SQL().QueryContext(ctx, q+` ORDER BY number DESC`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*forge.PR
	for rows.Next() {
		pr, err := f.scan(ctx, rows)
		if err != nil {
			return nil, err
		}
		out = append(out, pr)
	}
	return out, rows.Err()
}

// Create implements forge.Forge: an open PR for the branch is returned as it is.
func (f *Forge) Create(ctx context.Context, in forge.NewPR) (*forge.PR, error) {
	if pr, err := f.FindOpen(ctx, in.Branch); err == nil {
		return pr, nil
	}
	head, err := f.branchHead(in.Branch)
	if err != nil {
		return nil, err
	}
	if head == "" {
		return nil, retry.Permanent(fmt.Errorf("opening a pull request: branch %s does not exist", in.Branch))
	}
	labels, _ := json.Marshal(nonNil(in.Labels))
	reviewers, _ := json.Marshal(nonNil(in.Reviewers))
	now := f.now().UnixMilli()
	var number int
	err = f.db.Write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO local_prs(repo, branch, base, title, body, labels, reviewers, state, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, f.name, in.Branch, in.Base, in.Title, in.Body, string(labels), string(reviewers), forge.StateOpen, now, now)
		if err != nil {
			return err
		}
		id, err := res.LastInsertId()
		number = int(id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("recording pull request for %s: %w", in.Branch, err)
	}
	pr, err := f.Get(ctx, number)
	if err != nil {
		return nil, err
	}
	return pr, f.emit(ctx, pr, event.Review{Action: event.ReviewOpened})
}

// Update implements forge.Forge.
func (f *Forge) Update(ctx context.Context, number int, title, body string, labels []string) (*forge.PR, error) {
	l, _ := json.Marshal(nonNil(labels))
	err := f.db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE local_prs SET title = ?, body = ?, labels = ?, updated_at = ? WHERE repo = ? AND number = ?`,
			title, body, string(l), f.now().UnixMilli(), f.name, number)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("updating pull request #%d: %w", number, err)
	}
	pr, err := f.Get(ctx, number)
	if err != nil {
		return nil, err
	}
	return pr, f.emit(ctx, pr, event.Review{Action: event.ReviewUpdated})
}

// Merge implements forge.Forge: a merge commit of the branch into the base
// branch, pushed to the repository, then the "merged" event. The protection
// (WithProtection) must allow the merge unless ctx carries an override
// (WithOverride), which is then kept on the pull request and written in the
// merge commit's message. opts.Method is ignored: the local forge always
// writes a merge commit.
func (f *Forge) Merge(ctx context.Context, number int, opts forge.MergeOptions) (string, error) {
	headSHA := opts.HeadSHA
	pr, err := f.Get(ctx, number)
	if err != nil {
		return "", err
	}
	switch {
	case pr.State == forge.StateMerged && headSHA != "" && pr.HeadSHA != headSHA:
		// As on GitHub: a merge meant for another head did not happen.
		return "", retry.Permanent(fmt.Errorf("merging #%d: %w: merged at head %.12s, not %.12s", number, forge.ErrNotMergeable, pr.HeadSHA, headSHA))
	case pr.State == forge.StateMerged:
		return pr.MergeCommit, nil
	case pr.State == forge.StateClosed:
		return "", retry.Permanent(fmt.Errorf("merging #%d: %w: it is closed", number, forge.ErrNotMergeable))
	}
	if headSHA != "" && pr.HeadSHA != headSHA {
		return "", fmt.Errorf("merging #%d: %w: head moved from %.12s to %.12s", number, forge.ErrNotMergeable, headSHA, pr.HeadSHA)
	}
	override := overrideOf(ctx)
	if err := f.allowed(ctx, pr, override); err != nil {
		return "", fmt.Errorf("merging #%d: %w", number, err)
	}
	changes, err := f.branchChanges(pr.Branch)
	if err != nil {
		return "", err
	}
	edit := func(snap fs.FS) (map[string][]byte, error) { return threeWay(snap, changes) }
	msg := mergeMessage(pr, opts.Message, override)
	c, err := f.repo.LandMerge(ctx, pr.Branch, edit, msg, f.now())
	if errors.Is(err, gitops.ErrNoChanges) {
		// The base already holds the branch's content: merged in effect.
		head, herr := f.branchHead(pr.Base)
		if herr != nil {
			return "", herr
		}
		c, err = &gitops.Commit{SHA: head}, nil
	}
	if err != nil {
		return "", fmt.Errorf("merging #%d: %w", number, err)
	}
	by := mergedBy(ctx)
	now := f.now().UnixMilli()
	err = f.db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE local_prs SET state = ?, merge_commit = ?, merged_by = ?, head_sha = ?, override = ?, merged_at = ?, updated_at = ?
			WHERE repo = ? AND number = ?`, forge.StateMerged, c.SHA, by, pr.HeadSHA, override, now, now, f.name, number)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("recording the merge of #%d: %w", number, err)
	}
	pr.State, pr.MergeCommit, pr.MergedBy, pr.Override = forge.StateMerged, c.SHA, by, override
	return c.SHA, f.emit(ctx, pr, event.Review{Action: event.ReviewMerged, MergeCommit: c.SHA, MergedBy: by})
}

// Close implements forge.Forge.
func (f *Forge) Close(ctx context.Context, number int, comment string) error {
	pr, err := f.Get(ctx, number)
	if err != nil {
		return err
	}
	if pr.State != forge.StateOpen {
		return nil
	}
	err = f.db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE local_prs SET state = ?, body = body || ?, head_sha = ?, updated_at = ? WHERE repo = ? AND number = ?`,
			forge.StateClosed, "\n\n---\nClosed: "+comment+"\n", pr.HeadSHA, f.now().UnixMilli(), f.name, number)
		return err
	})
	if err != nil {
		return fmt.Errorf("closing #%d: %w", number, err)
	}
	pr.State = forge.StateClosed
	return f.emit(ctx, pr, event.Review{Action: event.ReviewClosed})
}

// Approve records user's approval of the PR's current head and emits the
// review event, as a GitHub review would.
func (f *Forge) Approve(ctx context.Context, number int, user string) error {
	pr, err := f.Get(ctx, number)
	if err != nil {
		return err
	}
	if pr.State != forge.StateOpen {
		return retry.Permanent(fmt.Errorf("approving #%d: it is %s", number, pr.State))
	}
	now := f.now()
	err = f.db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO local_pr_reviews(repo, number, user, state, commit_id, at) VALUES (?, ?, ?, ?, ?, ?)`,
			f.name, number, user, event.ReviewApproved, pr.HeadSHA, now.UnixMilli())
		return err
	})
	if err != nil {
		return fmt.Errorf("recording the approval of #%d: %w", number, err)
	}
	return f.emit(ctx, pr, event.Review{Action: event.ReviewApproved, Reviewer: user, ReviewCommit: pr.HeadSHA, At: now})
}

// Reviews implements forge.Forge.
func (f *Forge) Reviews(ctx context.Context, number int) ([]forge.Review, error) {
	rows, err := f.db.SQL().QueryContext(ctx, `SELECT user, state, commit_id, at FROM local_pr_reviews WHERE repo = ? AND number = ? ORDER BY at`, f.name, number)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []forge.Review
	for rows.Next() {
		var r forge.Review
		var at int64
		if err := rows.Scan(&r.User, &r.State, &r.CommitID, &at); err != nil {
			return nil, err
		}
		r.At = time.UnixMilli(at).UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

// ChecksPassed implements forge.Forge. The local forge runs no CI: there is
// nothing to wait for.
func (f *Forge) ChecksPassed(context.Context, string) (bool, error) { return true, nil }

func (f *Forge) emit(ctx context.Context, pr *forge.PR, r event.Review) error {
	if f.events == nil {
		return nil
	}
	r.Repository, r.Number, r.Title, r.HeadRef, r.HeadSHA, r.BaseRef, r.Labels = f.name, pr.Number, pr.Title, pr.Branch, pr.HeadSHA, pr.Base, pr.Labels
	if r.At.IsZero() {
		r.At = f.now().UTC()
	}
	env, err := event.New(event.KindReview, "local-forge", fmt.Sprintf("local-forge:%d:%s:%d", pr.Number, r.Action, f.now().UnixNano()), logging.Trace(ctx), r, f.now())
	if err != nil {
		return err
	}
	if _, err := queue.SendEnvelope(ctx, f.events, env, "", "", ""); err != nil {
		return fmt.Errorf("emitting the %s event of #%d: %w", r.Action, pr.Number, err)
	}
	return nil
}

// allowed asks the protection whether pr may merge; an override skips it.
func (f *Forge) allowed(ctx context.Context, pr *forge.PR, override string) error {
	if f.protect == nil || override != "" {
		return nil
	}
	reviews, err := f.Reviews(ctx, pr.Number)
	if err != nil {
		return err
	}
	if err := f.protect(ctx, pr, reviews); err != nil {
		return fmt.Errorf("%w: %w (an explicit override merges it and is recorded: conveyor pr merge %d --override \"reason\")",
			forge.ErrNotMergeable, err, pr.Number)
	}
	return nil
}

// mergeMessage is the merge commit's message: GitHub's first line, the
// title, what the merger added (approvals) and any override.
func mergeMessage(pr *forge.PR, extra, override string) string {
	msg := fmt.Sprintf("Merge pull request #%d from %s\n\n%s\n", pr.Number, pr.Branch, pr.Title)
	if extra != "" {
		msg += "\n" + strings.TrimSpace(extra) + "\n"
	}
	if override != "" {
		msg += "\nOverride: " + override + "\n"
	}
	return msg
}

type overrideKey struct{}

// WithOverride marks the merges in ctx as explicit overrides of the release
// policy, for reason: the protection is not asked, and the reason is
// recorded on the pull request and in the merge commit.
func WithOverride(ctx context.Context, reason string) context.Context {
	return context.WithValue(ctx, overrideKey{}, strings.TrimSpace(reason))
}

func overrideOf(ctx context.Context) string {
	r, _ := ctx.Value(overrideKey{}).(string)
	return r
}

type mergerKey struct{}

// WithMerger names who merges in ctx (the CLI user, or "conveyor" for auto
// releases).
func WithMerger(ctx context.Context, user string) context.Context {
	return context.WithValue(ctx, mergerKey{}, user)
}

func mergedBy(ctx context.Context) string {
	if u, ok := ctx.Value(mergerKey{}).(string); ok && u != "" {
		return u
	}
	return "conveyor"
}

func (f *Forge) open() (*git.Repository, error) {
	r, err := git.PlainOpen(f.dir)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", f.dir, err)
	}
	return r, nil
}

func (f *Forge) branchHead(branch string) (string, error) {
	r, err := f.open()
	if err != nil {
		return "", err
	}
	ref, err := r.Reference(plumbing.NewBranchReferenceName(branch), true)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return ref.Hash().String(), nil
}

// change is one file a branch's commit changed: its content before (in the
// commit's parent) and after.
type change struct {
	path          string
	before, after []byte // nil: absent
}

// branchChanges returns what the branch's head commit changed against its
// first parent: Conveyor's promotion branches are one commit on the base.
func (f *Forge) branchChanges(branch string) ([]change, error) {
	r, err := f.open()
	if err != nil {
		return nil, err
	}
	ref, err := r.Reference(plumbing.NewBranchReferenceName(branch), true)
	if err != nil {
		return nil, retry.Permanent(fmt.Errorf("reading branch %s: %w", branch, err))
	}
	head, err := r.CommitObject(ref.Hash())
	if err != nil {
		return nil, err
	}
	parent, err := head.Parent(0)
	if err != nil {
		return nil, fmt.Errorf("reading the parent of %s: %w", branch, err)
	}
	from, err := parent.Tree()
	if err != nil {
		return nil, err
	}
	to, err := head.Tree()
	if err != nil {
		return nil, err
	}
	diff, err := from.Diff(to)
	if err != nil {
		return nil, err
	}
	var out []change
	for _, d := range diff {
		var c change
		if d.From.Name != "" {
			c.path = d.From.Name
			if c.before, err = blob(from, d.From.Name); err != nil {
				return nil, err
			}
		}
		if d.To.Name != "" {
			c.path = d.To.Name
			if c.after, err = blob(to, d.To.Name); err != nil {
				return nil, err
			}
		}
		out = append(out, c)
	}
	return out, nil
}

func blob(t *object.Tree, p string) ([]byte, error) {
	file, err := t.File(p)
	if err != nil {
		return nil, err
	}
	s, err := file.Contents()
	return []byte(s), err
}

// threeWay applies a branch's changes to the base tip at file granularity:
// a file the base left as the branch found it takes the branch's version; a
// file both changed the same way is left; a file both changed differently
// is a conflict, and the merge is refused.
func threeWay(snap fs.FS, changes []change) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, c := range changes {
		now, err := fs.ReadFile(snap, c.path)
		if errors.Is(err, fs.ErrNotExist) {
			now = nil
		} else if err != nil {
			return nil, err
		}
		switch {
		case bytes.Equal(now, c.after) && (now == nil) == (c.after == nil):
			// Already there.
		case bytes.Equal(now, c.before) && (now == nil) == (c.before == nil):
			out[c.path] = c.after
		default:
			return nil, fmt.Errorf("%w: %s changed on the base branch too", forge.ErrNotMergeable, c.path)
		}
	}
	return out, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// IsLocal reports whether a GitOps location can host the local forge.
func IsLocal(location string) bool {
	if strings.HasPrefix(location, "file://") {
		return true
	}
	if strings.Contains(location, "://") {
		return false
	}
	_, err := os.Stat(filepath.Clean(location))
	return err == nil
}

// TeamsEnv lists the local forge's teams, as GitHub would know them:
// "org/team=alice,bob;org/other=carol".
const TeamsEnv = "CONVEYOR_LOCAL_TEAMS"

// IsTeamMember answers from $CONVEYOR_LOCAL_TEAMS.
func (f *Forge) IsTeamMember(ctx context.Context, org, team, user string) (bool, error) {
	return EnvTeams{}.IsTeamMember(ctx, org, team, user)
}

// EnvTeams are the local forge's teams, from $CONVEYOR_LOCAL_TEAMS.
type EnvTeams struct{}

// IsTeamMember answers from $CONVEYOR_LOCAL_TEAMS.
func (EnvTeams) IsTeamMember(_ context.Context, org, team, user string) (bool, error) {
	for _, entry := range strings.Split(os.Getenv(TeamsEnv), ";") {
		name, members, ok := strings.Cut(entry, "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(name), org+"/"+team) {
			continue
		}
		for _, m := range strings.Split(members, ",") {
			if strings.EqualFold(strings.TrimSpace(m), user) {
				return true, nil
			}
		}
	}
	return false, nil
}

// ListMerged returns up to limit merged pull requests labelled label, the
// newest first.
func (f *Forge) ListMerged(ctx context.Context, label string, limit int) ([]*forge.PR, error) {
	all, err := f.List(ctx, forge.StateMerged)
	if err != nil {
		return nil, fmt.Errorf("listing merged pull requests: %w", err)
	}
	var out []*forge.PR
	for _, pr := range all {
		for _, l := range pr.Labels {
			if l == label && len(out) < limit {
				out = append(out, pr)
				break
			}
		}
	}
	return out, nil
}
