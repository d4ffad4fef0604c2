// Package pipeline reads the pipeline, conveyor.yaml at the root of the
// GitOps repository, and writes to that repository as the pipeline
// currently describes it. Both runtimes and the operator CLI use it:
//
//   - Cache returns the current conveyor.yaml, parsed at most once per
//     commit of the GitOps branch: each call asks the remote for the
//     branch's tip (one ls-remote round trip, or a reference read on disk)
//     and fetches and parses the file only when the tip moved.
//   - GitOps proposes promotions and reads history on the base branch and
//     as the author conveyor.yaml names at the time, with fresh git
//     credentials for each operation.
package pipeline
