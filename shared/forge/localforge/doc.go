// Package localforge is the forge of the local runtime: a pull request is a
// branch of the GitOps repository plus a row in the embedded database.
// Merging writes a real merge commit into the base branch and, like a
// GitHub webhook would, puts a "merged" review event on the approvals queue,
// so the environment chain runs exactly as it does against GitHub.
package localforge
