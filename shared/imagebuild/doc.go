// Package imagebuild turns a commit's build context and a restricted Dockerfile
// (or a Dockerfile-less Spec) into an OCI image without a container runtime,
// and pushes it by digest.
//
// Conveyor runs in AWS Lambda, where there is no Docker daemon, so a build
// can only do what needs no runtime: take a base image, append files from
// the build context as layers and edit the image config. RUN and every other
// instruction that would execute something is refused with the line that
// uses it.
//
// Builds are reproducible: the same context, recipe and commit time give the
// same digest whatever the host's file mtimes, owners, umask, directory
// iteration order or wall clock. Each COPY or ADD becomes one layer whose tar
// entries are sorted by path, include their parent directories, carry the
// commit time as mtime, uid and gid 0 (or the numeric --chown), no user or
// group names, no extended attributes, and normalised modes: 0755 for
// directories and for files with any execute bit, 0644 for other files, unless
// --chmod says otherwise. Layers are gzip-compressed at BestSpeed with
// klauspost/compress; because compressed output is only stable for one
// version of the compressor, reproducibility holds per pinned go.mod.
//
// The build context is opened with os.Root: no COPY source, wildcard match or
// copied directory can leave it. Symlinks are stored as symlinks, never
// followed to copy their targets, and a symlink whose target leaves the
// context (an absolute target, or one that climbs out with "..") is refused.
// Sources must be relative to the context; absolute sources are refused
// rather than silently re-rooted as Docker does. Devices, fifos and sockets
// are refused. .dockerignore is honoured. ADD of a URL is refused; ADD of a
// local archive is refused (Conveyor never unpacks archives: use COPY to copy
// it as is); any other ADD behaves as COPY.
//
// Files are streamed: each layer is read from the context once, tarred,
// hashed and compressed while it is uploaded, and memory does not grow with
// the size of the context.
//
// Rebuilds write nothing: every manifest and index carries
// AnnotationBuildKey, a hash of the recipe, the base digest, the platform
// selection and the provenance. When the commit's tag already holds an image
// with the same key, Build returns it without reading the context, trusting
// that a revision fixes its context (Options.UncommittedContext turns this
// off for a worktree with changes).
//
// Multi-stage Dockerfiles are supported as far as a runtime-less build
// allows: a stage can COPY --from an earlier stage the files that stage
// itself copied from the context (the files of an earlier stage's base image
// cannot be read), and FROM can name an earlier stage to continue it.
// ARG and ENV substitution follows Dockerfile rules, but variables set only
// by the base image's config are not known while parsing and expand to the
// empty string.
//
// Each platform built gets the standard platform arguments (PlatformArgs:
// TARGETPLATFORM, TARGETOS, TARGETARCH, TARGETVARIANT, BUILDPLATFORM…),
// so `COPY bin/${TARGETARCH}/server /srv/server` gives each platform its
// own layer. Options.Platforms selects which of the base's platforms to
// build (every one must be there), and makes FROM scratch an index of the
// listed platforms. A recipe that reads no platform argument is planned
// once and its layers are shared by every platform.
package imagebuild
