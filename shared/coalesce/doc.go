// Package coalesce skips work that newer work for the same key has made
// pointless: older promotions of an app into an environment, older builds
// of an app's branch. A producer records the newest wanted work for a key
// as it queues it (Want); a consumer asks before it works (Decide) and
// either proceeds, waits for the key's settle window to end (through the
// queue's visibility, never by sleeping), or skips its work as superseded.
// Going ahead closes the window, so the next work opens a new one even
// while the work that went ahead is still running. The records live in the state store (state.Latests), with
// conditional writes, so every consumer instance decides alike.
package coalesce
