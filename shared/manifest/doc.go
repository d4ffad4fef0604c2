// Package manifest writes an image digest into the manifests of a GitOps
// repository, changing nothing but the bytes of the value it sets.
//
// Round-tripping YAML through a library is not byte-faithful: spacing before
// comments, sequence indentation and quoting drift. So every strategy parses
// the file with yaml.v3 only to find where the target scalar sits (line,
// column and its exact source extent, plain, 'single' or "double" quoted),
// then splices the new text into the original bytes in the same quoting
// style. A value that has to be added is a new line with its siblings'
// indentation and the file's line ending; a kustomize newTag that has to go
// is removed with its line. Comments, key order, blank lines, tabs and CRLF
// line endings elsewhere stay byte-for-byte as they were.
//
// Four strategies find the target:
//
//   - kustomize: the images: entry of a kustomization whose name (or
//     newName) is the image repository gets digest: (and newName when the
//     repository differs); an entry is appended when none matches.
//   - helm: dotted paths in a values file, either one image string or
//     repository with digest and/or tag.
//   - raw: the image of a named container in the workloads of Kubernetes
//     manifests (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job,
//     CronJob), multi-document files included.
//   - marker: any line ending in a "# conveyor:image <app>" comment, with
//     ":digest", ":repository" and ":tag" variants.
//
// The written reference is always repository@sha256:<hex>, or
// repository:tag@sha256:<hex> when the target keeps the tag; a reference
// without a digest is refused ([ErrNoDigest]), so a mutable tag is never
// written.
//
// Editing a file to the value it already holds is not an error: [Edit]
// returns the input unchanged with an empty change list, and [EditTree]
// returns no writes and no changes.
//
// [EditTree] is the one editor of a repository tree: it works on an fs.FS
// (a snapshot of the GitOps repository), owns the rules for directories
// ([Detect]: a kustomization, a chart's values.yaml, or the YAML files below
// it, hidden directories skipped) and returns the new bytes for the caller
// to commit. [Overlay] shows a tree with those writes applied, for the
// render checks that follow an edit.
//
// Errors name the file and the YAML path and wrap a sentinel ([ErrTargetNotFound],
// [ErrAmbiguous], [ErrNoDigest], [ErrTooLarge], ...) to check with errors.Is:
//
//	envs/dev/deploy.yaml: spec.template.spec.containers[name=web]: no container named "web"
//
// Every error of Edit depends on its input only and is therefore permanent;
// retrying the same edit cannot succeed. EditTree adds file system errors.
//
// Untrusted input is bounded before it is decoded: files over [MaxFileSize]
// bytes are refused, and so are documents with more than [MaxAliases] alias
// references. The YAML is only composed into a node tree, where an alias is
// a single node pointing at its anchor; it is never decoded into Go values,
// which is where alias bombs expand.
package manifest
