// Package githubforge is the GitHub adapter of the forge port
// (package forge): it opens, updates, merges and closes promotion pull
// requests through go-github.
//
// The adapter takes a *github.Client that is already authenticated (a
// GitHub App installation transport in production) and never sees or logs a
// token. It retries nothing itself, apart from a short, bounded poll while
// GitHub is still computing whether a pull request is mergeable: the queue
// that invoked the caller retries the message. Instead, every error is
// classified for the queue in one place (errors.go):
//
//   - primary and secondary rate limits, and HTTP 429, are transient and
//     carry the server's wait (retry.After);
//   - 5xx responses and network errors are transient;
//   - 404 wraps forge.ErrNotFound and is permanent (retry.Permanent);
//   - 422 and other 4xx responses are permanent, with GitHub's message and
//     its errors[].message details in the error text.
//
// Expected outcomes are idempotent: creating a pull request for a branch that
// already has one adopts it, merging a merged pull request returns its merge
// commit, and closing a closed pull request succeeds.
package githubforge
