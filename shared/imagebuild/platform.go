package imagebuild

import (
	"fmt"
	"regexp"
	"runtime"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// PlatformArgs are the build arguments a build sets for each platform it
// builds, as BuildKit does: a Dockerfile reads them after `ARG TARGETARCH`
// (or without it: they are known to every stage), a Spec in its files,
// env and labels, so that `COPY bin/${TARGETARCH}/server /srv/server`
// copies each platform's own binary.
var PlatformArgs = []string{"TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT", "BUILDPLATFORM", "BUILDOS", "BUILDARCH", "BUILDVARIANT"}

func isPlatformArg(name string) bool { return slices.Contains(PlatformArgs, name) }

// platformEnv returns the platform arguments for target as KEY=value
// strings. The build platform is the machine's: a recipe that reads
// BUILDPLATFORM builds differently on an arm64 Lambda than on an amd64
// laptop, as it would with BuildKit.
func platformEnv(target v1.Platform) []string {
	build := v1.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH}
	return []string{
		"TARGETPLATFORM=" + target.String(),
		"TARGETOS=" + target.OS,
		"TARGETARCH=" + target.Architecture,
		"TARGETVARIANT=" + target.Variant,
		"BUILDPLATFORM=" + build.String(),
		"BUILDOS=" + build.OS,
		"BUILDARCH=" + build.Architecture,
		"BUILDVARIANT=",
	}
}

// usesPlatformArgs reports whether any step of the recipe reads a platform
// argument, in which case each platform is planned on its own.
func (r *Recipe) usesPlatformArgs() bool {
	for _, st := range r.Stages {
		for _, s := range st.Steps {
			if !s.hasBaseVars() {
				continue
			}
			for _, v := range s.baseVars() {
				if isPlatformArg(v) {
					return true
				}
			}
		}
	}
	return false
}

// baseVars lists the variables a step leaves for build time.
func (s Step) baseVars() []string {
	all := append(append([]string{s.Dest}, s.Sources...), s.Values...)
	for _, kv := range s.Pairs {
		all = append(all, kv.Key, kv.Value)
	}
	var names []string
	for _, v := range all {
		for _, m := range baseVarPattern.FindAllStringSubmatch(v, -1) {
			names = append(names, m[1])
		}
	}
	return names
}

// specPlatformArg matches $NAME and ${NAME} for a platform argument in a
// Spec's values.
var specPlatformArg = regexp.MustCompile(`\$(?:\{(` + strings.Join(PlatformArgs, "|") + `)\}|(` + strings.Join(PlatformArgs, "|") + `)\b)`)

// markPlatformArgs leaves a Spec value's platform arguments for build time.
func markPlatformArgs(s string) string {
	return specPlatformArg.ReplaceAllStringFunc(s, func(m string) string {
		return baseVarRef(strings.Trim(m, "${}"))
	})
}

// ParsePlatforms parses platforms such as "linux/arm64/v8"; each needs an
// OS and an architecture, and none may repeat.
func ParsePlatforms(specs []string) ([]v1.Platform, error) {
	var out []v1.Platform
	seen := map[string]bool{}
	for _, s := range specs {
		p, err := v1.ParsePlatform(s)
		if err != nil || p.OS == "" || p.Architecture == "" {
			return nil, fmt.Errorf("platform %q: want os/arch[/variant]: %w", s, ErrInvalidOptions)
		}
		if seen[p.String()] {
			return nil, fmt.Errorf("platform %q is listed twice: %w", s, ErrInvalidOptions)
		}
		seen[p.String()] = true
		out = append(out, *p)
	}
	return out, nil
}

// selectPlatforms keeps the base images that one of want selects, in the
// base's order; a wanted platform the base lacks is an ErrBaseImage that
// names it.
func selectPlatforms(images []baseImage, want []v1.Platform, base string) ([]baseImage, error) {
	var out []baseImage
	for _, bi := range images {
		for _, w := range want {
			if bi.platform.Satisfies(w) {
				out = append(out, bi)
				break
			}
		}
	}
	for _, w := range want {
		found := slices.ContainsFunc(out, func(bi baseImage) bool { return bi.platform.Satisfies(w) })
		if !found {
			var have []string
			for _, bi := range images {
				have = append(have, bi.platform.String())
			}
			return nil, fmt.Errorf("base image %s has no %s image (it has %s): %w", base, w.String(), strings.Join(have, ", "), ErrBaseImage)
		}
	}
	return out, nil
}
