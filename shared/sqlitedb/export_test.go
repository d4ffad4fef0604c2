package sqlitedb

// Queued is how many writes wait for the committer, for tests that must
// know a batch has formed.
func (g *Group) Queued() int { return len(g.reqs) }
