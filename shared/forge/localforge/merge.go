package localforge

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/gitops"
	"github.com/conveyor-gitops/conveyor/shared/retry"
)

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

// Comment implements forge.Commenter. Comments are kept apart from the
// body, which the promoter compares to decide whether a PR is current.
func (f *Forge) Comment(ctx context.Context, number int, body string) error {
	if _, err := f.Get(ctx, number); err != nil {
		return err
	}
	err := f.db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO local_pr_comments (repo, number, body, at) VALUES (?, ?, ?, ?)`,
			f.name, number, body, f.now().UnixMilli())
		return err
	})
	if err != nil {
		return fmt.Errorf("commenting on #%d: %w", number, err)
	}
	return nil
}

// Comments returns PR number's comments, oldest first.
func (f *Forge) Comments(ctx context.Context, number int) ([]string, error) {
	rows, err := f.db.SQL().QueryContext(ctx, `SELECT body FROM local_pr_comments WHERE repo = ? AND number = ? ORDER BY rowid`, f.name, number)
	if err != nil {
		return nil, fmt.Errorf("reading the comments of #%d: %w", number, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var b string
		if err := rows.Scan(&b); err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

var _ forge.Commenter = (*Forge)(nil)
