package config

import (
	"strconv"
	"time"
)

// Pos is where a value was written in conveyor.yaml, and the field path that
// names it in error messages.
type Pos struct {
	Line   int    // 1-based; 0 when unknown (for example for a struct built in code)
	Column int    // 1-based; 0 when unknown
	Path   string // field path such as "apps[0].environments[1]"; "" for the document
}

// String returns "line:column".
func (p Pos) String() string {
	return strconv.Itoa(p.Line) + ":" + strconv.Itoa(p.Column)
}

// Config is a parsed conveyor.yaml.
type Config struct {
	File    string // file name given to Parse or Load, used in error messages
	Pos     Pos
	Version int
	GitOps  GitOps
	// Settle is the pipeline's default settle window (see
	// Environment.Settle); DefaultSettle when unset.
	Settle time.Duration
	// Defaults and Templates let many apps share one environment chain
	// (see Template).
	Defaults  Defaults
	Templates []Template
	// Discover finds apps in the GitOps repository's tree; Apps holds
	// those found when the file was parsed with them (WithFound,
	// ParseTree), after the written ones.
	Discover []Discover
	Apps     []App
	// Index finds Apps by name; Parse builds it once the names are known
	// to be unique. A Config without one is scanned.
	Index AppIndex
}

// AppIndex maps app names to their position in Config.Apps. It is derived
// from Apps and carries no setting of its own, so any two are Equal (which
// go-cmp honours).
type AppIndex struct{ byName map[string]int }

// Equal reports true: an index never tells two configurations apart.
func (AppIndex) Equal(AppIndex) bool { return true }

// GitOps configures the GitOps repository that holds the manifests.
type GitOps struct {
	Pos    Pos
	Branch string // base branch promotion pull requests target; default "main"
	Author Author // author of Conveyor's commits
}

// Author is a commit author.
type Author struct {
	Pos   Pos
	Name  string // default "Conveyor"
	Email string // default "conveyor@localhost"
}

// App is one deliverable: a source repository built into an image
// repository and promoted through ordered environments.
type App struct {
	Pos    Pos
	Name   string // DNS label, unique in the file
	Source Source
	Image  string // image repository, without tag or digest
	Tags   TagPolicy
	Build  Build
	// Template names the Template the environments come from, merged with
	// the app's own; "" for none (Defaults.Template then applies when the
	// app lists no environments).
	Template     string
	Environments []Environment // promotion order, after any template is applied
	// Notify receives the app's notifications, for every environment.
	Notify []Notify
}

// Source is the repository and branch whose pushes build an app.
type Source struct {
	Pos    Pos
	Repo   string   // https URL, file:// URL, absolute local path, or "owner/name" on GitHub
	Branch string   // default "main"
	Paths  []string // globs of files whose change triggers a build; empty means any
}

// TagPolicy selects which image tags pushed to the registry start a
// promotion. A zero TagPolicy accepts every tag and digest-only pushes.
type TagPolicy struct {
	Pos    Pos
	Glob   []string // path.Match patterns
	Semver string   // Masterminds semver constraint, such as ">=1.0.0 <2.0.0"
}

// Build is how an app's image is built from its source repository: either
// from a Dockerfile, or Dockerfile-less from a base image plus files and
// image settings.
type Build struct {
	Pos        Pos
	Context    string            // relative to the source repository root; default "."
	Dockerfile string            // relative to the source repository root; default "Dockerfile" unless Base is set
	Args       map[string]string // build args, Dockerfile form only
	Base       string            // base image reference ("scratch" allowed); Dockerfile-less form
	Files      []File
	Entrypoint []string
	Cmd        []string
	Env        map[string]string
	User       string
	Workdir    string // absolute
	Labels     map[string]string
	Expose     []string // "port" or "port/proto" with proto tcp or udp
	// Platforms selects which of the base image's platforms to build
	// ("linux/amd64", "linux/arm64"); with base scratch, the platforms of
	// the index built. Empty: every platform of the base.
	Platforms []string
	// LatestOnly lets a newer commit on the app's branch supersede a
	// queued build of an older one: the older build is skipped and
	// recorded as superseded instead of built.
	LatestOnly bool
}

// File is one file or directory copied from the build context into the
// image by the Dockerfile-less build form.
type File struct {
	Pos Pos
	Src string // relative to the build context
	Dst string // absolute path in the image
}

// Strategy is how the manifests of an environment are edited to point at a
// new image.
type Strategy string

// Edit strategies. An empty Strategy means the promoter detects it from the
// files at the environment's path.
const (
	StrategyKustomize Strategy = "kustomize" // kustomization.yaml images:
	StrategyHelm      Strategy = "helm"      // a values file, at the paths in Helm
	StrategyRaw       Strategy = "raw"       // a container's image in a raw manifest
	StrategyMarker    Strategy = "marker"    // a line marked with a comment
)

// Release is how a promotion pull request is merged.
type Release string

// Release controls.
const (
	ReleaseAuto   Release = "auto"   // Continuous Deployment: Conveyor merges
	ReleaseManual Release = "manual" // Continuous Delivery: reviewers merge
)

// MergeMethod is how a promotion pull request is merged.
type MergeMethod string

// Merge methods, as GitHub names them.
const (
	MergeMerge  MergeMethod = "merge"
	MergeSquash MergeMethod = "squash"
	MergeRebase MergeMethod = "rebase"
)

// Environment is one stage of an app's promotion path.
type Environment struct {
	Pos  Pos
	Name string // DNS label, unique within the app
	Path string // file or directory in the GitOps repository, relative
	// Paths are several files or directories promoted together, in one
	// pull request (prod-eu and prod-us), instead of Path.
	Paths    []string
	Strategy Strategy
	// Image names the image as the manifests write it, when that is not
	// the app's image (a registry move: the overlay names ghcr.io/x/app,
	// the pipeline pushes a mirror). The promotion finds that name and
	// writes the pushed image (Kustomize newName).
	Image       EnvImage
	Helm        Helm   // values paths, with StrategyHelm only
	Container   string // container to edit with StrategyRaw; defaults to the app name when Strategy is raw or empty
	KeepTag     bool   // write repo:tag@sha256:… rather than repo@sha256:…
	Release     Release
	Reviewers   []string // GitHub users or "org/team" slugs: required with ReleaseManual, refused with ReleaseAuto
	Approvals   int      // approvals required from Reviewers; default 1 with ReleaseManual
	MergeMethod MergeMethod
	Verify      bool // require green checks on the GitOps commit before promoting onward
	Freeze      []Freeze
	// Settle is how long a promotion into this environment waits for
	// newer work of the same app before it proposes: a burst of pushes
	// within one window becomes one pull request update, of the newest
	// digest. The pipeline's settle when unset; 0 proposes at once (work
	// already queued behind a newer digest is still skipped).
	Settle time.Duration
	// Platforms are the platforms the environment's nodes run: an image
	// lacking one is refused before any pull request. Empty: any image.
	Platforms []string
	// Require is what an image must carry to be promoted here.
	Require Require
	// Notify receives this environment's notifications, besides the
	// app's receivers.
	Notify []Notify
}

// EnvImage is how an environment's manifests name the app's image.
type EnvImage struct {
	Pos  Pos
	Name string // an image repository, without tag or digest
}

// Locations returns the files or directories an environment's promotions
// edit: Paths, or Path alone.
func (e *Environment) Locations() []string {
	if len(e.Paths) > 0 {
		return e.Paths
	}
	return []string{e.Path}
}

// ManifestImage returns the repository the environment's manifests name
// for app a: Image.Name when set, otherwise the app's image.
func (e *Environment) ManifestImage(a *App) string {
	if e.Image.Name != "" {
		return e.Image.Name
	}
	return a.Image
}

// Helm names the dotted YAML paths of a Helm values file that hold the
// image: either Image alone (one "repo@sha256:…" string), or Repository with
// Digest and/or Tag.
type Helm struct {
	Pos        Pos
	Image      string
	Repository string
	Digest     string
	Tag        string
}

// IsZero reports whether no path is set.
func (h Helm) IsZero() bool {
	return h.Image == "" && h.Repository == "" && h.Digest == "" && h.Tag == ""
}

// Freeze is a recurring window during which an environment is not promoted
// to: it opens at each fire of Cron in Timezone and lasts Duration of
// elapsed time.
type Freeze struct {
	Pos      Pos
	Cron     string        // 5-field cron: minute hour day-of-month month day-of-week
	Duration time.Duration // > 0
	Timezone string        // IANA name; default "UTC"
}
