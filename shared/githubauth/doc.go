// Package githubauth authenticates Conveyor to GitHub, in either runtime:
// token sources (a GitHub App installation's tokens, minted with the App's
// signed JWT and cached until shortly before they expire, or a static
// token), a go-github client and HTTP transport that send the token only to
// the API's host, and the git credentials that send it only to its git host
// over https.
package githubauth
