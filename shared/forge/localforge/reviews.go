package localforge

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/logging"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/retry"
)

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
			// An empty entry ("org/team=" or "a,,b") is nobody: it must
			// not let an unnamed reviewer count.
			if m = strings.TrimSpace(m); m != "" && strings.EqualFold(m, user) {
				return true, nil
			}
		}
	}
	return false, nil
}
