// Package dynamostate is the Amazon DynamoDB adapter of the state port, on
// aws-sdk-go-v2, in one table:
//
//	item            pk               sk         also
//	idempotency     idem#<key>       idem       status, result, expires_at, ttl
//	release         release#<id>     release    gsi1pk app#<app>, gsi1sk env#<env>#<created>#<id>,
//	                                            with a pull request gsi2pk pr#<number>, gsi2sk <created>#<id>
//	failure reason  reason#<msg id>  reason     reason, ttl
//	dead letter     dead#<queue>#<id> dead      gsi1pk dead, gsi1sk <queue>#<dead at>#<id>, body, reason, ttl
//	migration       migration#gsi2   migration  (present once IndexPullRequests went through every app)
//
// Claims are conditional puts (attribute_not_exists(pk) OR expires_at <=
// :now), so an expired in-progress claim can be taken over; expiry is
// decided by expires_at (epoch milliseconds) and the store's clock, never by
// DynamoDB's TTL, which deletes lazily; ttl (epoch seconds) only lets
// DynamoDB clean up. Releases carry a version that every put must match
// (optimistic concurrency). ListReleases queries the gsi2 index when the
// filter names a pull request, the gsi1 index when it names an app
// (eventually consistent, as every GSI read) and scans otherwise. gsi2 is
// sparse, and releases written before it existed carry no gsi2pk until
// their next write: when gsi2 has no release of the pull request,
// ListReleases reads as it would without one (gsi1 or a scan) and filters
// on pr, so those are still found. A pull request with only some of its
// releases rewritten since would be listed from gsi2 alone, without the
// others: IndexPullRequests, which the scheduled reconciliation runs
// before its first pass, gives those of the pipeline's apps their keys (an
// app removed from the pipeline before keeps its releases unindexed). The
// store also implements sqsqueue.Reasons, keeping the failure reasons of SQS
// messages, and state.DeadLetters, listed with one query of gsi1 so that a
// read-only role can read them.
package dynamostate
