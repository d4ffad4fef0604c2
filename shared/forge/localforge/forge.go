package localforge

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/gitops"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
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
	`CREATE TABLE IF NOT EXISTS local_pr_comments (
		repo TEXT NOT NULL,
		number INTEGER NOT NULL,
		body TEXT NOT NULL,
		at INTEGER NOT NULL
	)`,
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
