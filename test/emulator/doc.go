// Package emulator starts the AWS emulators that the AWS adapters' tests
// run against: fauxqs for SQS and dynalite for DynamoDB, each a Node
// process on a free port reached at 127.0.0.1, stopped when the test ends.
//
// The emulators are installed by the project (test/tools/emulators.sh, run
// by `make tools`) under $CONVEYOR_TOOLS/npm, default .tools/npm at the
// repository root. A test whose emulator is missing fails: it does not skip.
package emulator
