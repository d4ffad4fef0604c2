// Package gitops reads and writes the GitOps repository with go-git: the
// pipeline's conveyor.yaml and, for promotions, the manifests it edits.
//
// Writes go through a Repo. Repo.Propose pushes a promotion as one commit on
// top of the base branch to a branch Conveyor owns (conveyor/<env>/<app>),
// force-replacing an older proposal and pushing nothing when the branch
// already holds the same change on the same base. Repo.Land and
// Repo.LandMerge push the base branch itself as a fast-forward guarded by the
// tip they built on, and re-apply the Edit on the new tip when another writer
// got there first.
//
// No git binary and no worktree are involved (AWS Lambda has neither): each
// operation lists the remote's branches, fetches only the tips it needs with
// depth 1 into memory, shows the Edit a Snapshot (an fs.FS over the commit's
// tree), writes the changed blobs and only the trees on their paths, writes
// the commit object and pushes it with an explicit refspec. The cost thus
// depends on the size of the tree, not on the length of the history.
//
// Failures no retry can fix (authentication, a missing repository or branch,
// an invalid edit) are marked with retry.Permanent; network errors and lost
// push races (ErrRaceLost) stay transient. ErrNoChanges reports an edit that
// changes nothing.
package gitops
