// Package forge is the port to where promotion pull requests live: GitHub
// (package githubforge) in production, and the local forge (package
// localforge), where a pull request is a branch of the GitOps repository
// plus a record in the state store.
package forge
