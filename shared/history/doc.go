// Package history answers ordering questions from a source repository's
// commit graph — is one revision an ancestor of another — so that "newer"
// follows source history, never a time the pusher controls. Local reads
// repositories on this machine through go-git; GitHub asks GitHub's compare
// API; Repos picks between them by location.
package history
