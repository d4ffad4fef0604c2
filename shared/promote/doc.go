// Package promote is the promote function's handler: a promotion (app,
// environment, digest) becomes one commit on the branch
// conveyor/<env>/<app> of the GitOps repository and one pull request —
// opened, or updated when a newer digest supersedes the one it proposed —
// which Conveyor merges itself where the environment's release is auto.
//
// Every step is idempotent, so a duplicated, replayed or reordered message
// never opens a second pull request for the same app, environment and
// digest, and never moves an environment back to an older image.
package promote
