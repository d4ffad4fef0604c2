package sqlitestate

// ReleasesQuery exposes the statement ListReleases runs, so that a test
// can ask SQLite how it would run it.
var ReleasesQuery = releasesQuery
