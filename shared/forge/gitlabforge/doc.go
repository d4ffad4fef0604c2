// Package gitlabforge is the GitLab adapter of the forge port (package
// forge): promotion pull requests are GitLab merge requests, opened, updated,
// approved, merged and closed through GitLab's maintained Go client
// (gitlab.com/gitlab-org/api/client-go).
//
// A forge.PR's Number is the merge request's IID, the number GitLab shows as
// !N in the project. The adapter takes a *gitlab.Client that is already
// authenticated (NewClient builds one from a base URL and a token, with the
// client's own retries turned off) and never logs a token. It retries nothing
// itself: the queue that invoked the caller does. Every error is classified
// in one place (errors.go), in githubforge's classes:
//
//   - 429 is transient and carries the server's wait (Retry-After, else
//     RateLimit-Reset; retry.After);
//   - 5xx responses, 408 and network errors are transient;
//   - 404 wraps forge.ErrNotFound and is permanent;
//   - 401, 403 and other 4xx responses are permanent;
//   - the merge endpoint's refusals (405, 406, 409, 422) wrap
//     forge.ErrNotMergeable and are transient.
//
// Approvals are tied to the head they approved as reviews.go explains: an
// approval GitLab cannot place on a head counts for none.
package gitlabforge
