// Package config parses and validates conveyor.yaml, the file at the root of
// the GitOps repository that declares Conveyor's delivery pipeline: the apps,
// the source repository and branch that feeds each app, the image repository
// it publishes, how it is built, and its ordered environments with their edit
// strategy, release control and freeze windows.
//
// Parsing is strict. Unknown keys (with a "did you mean" suggestion),
// duplicate keys, values of the wrong type and every semantic rule are
// reported together as [Errors], sorted by line, each naming the file, line,
// column and field path:
//
//	conveyor.yaml:12:7: apps[0].environments[1].release: must be "auto" or "manual", got "sometimes"
//
// Untrusted input is bounded before it is decoded: files over [MaxSize]
// bytes are refused, and so are documents with more than [MaxAliases] alias
// references. The YAML is composed into a node tree (where each alias is one
// node that points at its anchor) and walked against the schema; it is never
// decoded into generic Go values, which is where alias bombs expand.
//
// Parsed structs keep their position ([Pos]) so that later stages (build,
// promotion) can report problems against conveyor.yaml with [Config.Errorf].
//
// The package embeds the IANA time zone database (time/tzdata) so that freeze
// window time zones validate and evaluate the same way in Lambda, in
// containers without /usr/share/zoneinfo and on developer machines.
package config

import _ "time/tzdata" // freeze windows must not depend on the host's zoneinfo
