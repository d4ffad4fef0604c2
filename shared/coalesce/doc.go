// Package coalesce skips work that newer work for the same key has made
// pointless: older promotions of an app into an environment, older builds
// of an app's branch. A producer records the newest wanted work for a key
// as it queues it (Want); a consumer asks before it works (Decide) and
// either proceeds, waits for the key's settle window to end (through the
// queue's visibility, never by sleeping), or skips its work as superseded;
// it marks the wanted work done afterwards (Done), so the next work opens
// a new window. The records live in the state store (state.Latests), with
// conditional writes, so every consumer instance decides alike.
package coalesce
