package githubforge

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-github/v60/github"
)

// IsTeamMember reports whether user is an active member of org's team (a
// pending invitation does not count), so that "org/team" reviewers in
// conveyor.yaml can satisfy a release policy.
func (f *Forge) IsTeamMember(ctx context.Context, org, team, user string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, f.opts.requestTimeout)
	defer cancel()
	m, _, err := f.teams.GetTeamMembershipBySlug(ctx, org, team, user)
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == http.StatusNotFound {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("checking %s's membership of %s/%s: %w", user, org, team, classify(err))
	}
	return m.GetState() == "active", nil
}
