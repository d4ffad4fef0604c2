package gitlabforge

import (
	"context"
	"fmt"
	"net/http"
	"time"

	gitlab "gitlab.com/gitlab-org/api/client-go"
)

// IsTeamMember reports whether user is an active member of the GitLab group
// org/team, directly or through a parent group, so that "group/team"
// reviewers in conveyor.yaml can satisfy a release policy. team may itself
// hold slashes ("platform/sre" under org): a reviewer "acme/platform/sre"
// names the subgroup acme/platform/sre. An invitation not yet accepted, a
// blocked member and an expired membership do not count.
func (f *Forge) IsTeamMember(ctx context.Context, org, team, user string) (bool, error) {
	group := org + "/" + team
	id, err := f.userID(ctx, user)
	if err != nil {
		return false, fmt.Errorf("checking %s's membership of %s: %w", user, group, err)
	}
	if id == 0 {
		return false, nil
	}
	rctx, cancel := f.ctx(ctx)
	defer cancel()
	m, resp, err := f.members.GetInheritedGroupMember(group, id, rctx)
	if isStatus(err, resp, http.StatusNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("checking %s's membership of %s: %w", user, group, classify(err, resp))
	}
	if m.ExpiresAt != nil && !time.Time(*m.ExpiresAt).After(time.Now()) {
		return false, nil
	}
	return m.State == "active" && m.AccessLevel > gitlab.NoPermissions, nil
}
