package config

import (
	"regexp"
	"strings"
)

// requireKeys are the keys an environment's require: map accepts.
var requireKeys = []string{"provenance"}

// Require is what an environment demands of an image before a promotion
// into it may open a pull request.
type Require struct {
	Pos Pos
	// Provenance refuses an image without a valid SLSA provenance
	// attestation from this deployment's builder.
	Provenance bool
}

// platformPattern is os/architecture with an optional variant, as OCI
// writes platforms ("linux/amd64", "linux/arm64/v8").
var platformPattern = regexp.MustCompile(`^[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?$`)

func (d *decoder) require(v value) Require {
	var rq Require
	if f, ok := d.mapping(v, requireKeys); ok {
		rq.Provenance = d.boolean(f.get("provenance"))
	}
	rq.Pos = d.pos(v)
	return rq
}

// validatePlatforms checks a platforms: list: each os/arch[/variant], none
// twice.
func validatePlatforms(ps []string, field string, r *reporter) {
	if len(ps) == 0 && r.present(field) {
		r.errorf(field, "list at least one platform, such as linux/amd64, or leave platforms out")
	}
	seen := map[string]int{}
	for i, p := range ps {
		f := index(field, i)
		switch first, dup := seen[p]; {
		case !platformPattern.MatchString(p):
			r.errorf(f, "must be os/architecture[/variant] in lower case, such as linux/arm64, got %q", p)
		case dup:
			r.errorf(f, "duplicate platform %q (first listed at line %d)", p, r.at(index(field, first)).Line)
		default:
			seen[p] = i
		}
	}
}

// HasPlatform reports whether the environment runs nodes of platform p
// ("linux/arm64"): a listed platform without a variant accepts every
// variant of its architecture.
func (e *Environment) HasPlatform(p string) bool {
	for _, want := range e.Platforms {
		if p == want || strings.HasPrefix(p, want+"/") {
			return true
		}
	}
	return false
}
