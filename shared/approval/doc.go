// Package approval is the approval function's handler. It watches
// Conveyor's own promotion pull requests: a merge records the release and
// promotes the same digest to the next environment; a close without merge
// records the rejection; an approval on a manual environment merges the
// pull request when the release policy's conditions hold.
package approval
