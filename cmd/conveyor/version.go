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

func runVersion(fs *pflag.FlagSet) runFunc {
	return func(ctx context.Context, stdout, stderr io.Writer) error {
		rev, modified := revision()
		if modified {
			rev += "-dirty"
		}
		fmt.Fprintf(stdout, "conveyor %s (revision %s, %s, %s/%s)\n", version, rev, runtime.Version(), runtime.GOOS, runtime.GOARCH)
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
