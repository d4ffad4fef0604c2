package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/spf13/pflag"
)

// version is set at release builds with -ldflags "-X main.version=v1.2.3"
// (make release); builds from a checkout say "dev".
var version = "dev"

// versionInfo is what `conveyor version -o json` prints.
type versionInfo struct {
	Version string `json:"version"`
	// Revision is the VCS revision, "-dirty" when built from a modified
	// tree.
	Revision string `json:"revision"`
	Go       string `json:"go"`
	Platform string `json:"platform"`
}

func runVersion(fs *pflag.FlagSet) runFunc {
	out := addOutputFlag(fs)
	return func(ctx context.Context, stdout, stderr io.Writer) error {
		if err := out.resolve(stderr); err != nil {
			return err
		}
		if fs.NArg() > 0 {
			return fmt.Errorf("%w: version takes no arguments", errUsage)
		}
		rev, modified := revision()
		if modified {
			rev += "-dirty"
		}
		v := versionInfo{Version: version, Revision: rev, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
		if !out.table() {
			return out.write(stdout, v)
		}
		fmt.Fprintf(stdout, "conveyor %s (revision %s, %s, %s)\n", v.Version, v.Revision, v.Go, v.Platform)
		return nil
	}
}

// revision is the VCS revision the Go toolchain stamped into the binary,
// "unknown" when it stamped none (go run, -buildvcs=false).
func revision() (string, bool) {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown", false
	}
	rev, modified := "unknown", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	return rev, modified
}
