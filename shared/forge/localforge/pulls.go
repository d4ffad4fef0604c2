package localforge

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/retry"
)

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
