package onboard

import (
	"fmt"
	"io/fs"
	"strings"

	"github.com/conveyor-gitops/conveyor/shared/config"
)

// Discover parses file's data with the apps its discover rules find in the
// repository fsys, and says what each rule found, one line per rule, so a
// reader sees the apps a pattern became: each app with its environments,
// and the names a written app took over.
func Discover(fsys fs.FS, file string, data []byte) (*config.Config, []string, error) {
	cfg, found, err := config.ParseTree(file, data, fsys)
	if err != nil {
		return nil, nil, err
	}
	lines := make([]string, len(cfg.Discover))
	for i, rule := range cfg.Discover {
		var apps, written []string
		for _, f := range found {
			if f.Rule != i {
				continue
			}
			a, _ := cfg.App(f.App)
			if a == nil || a.Pos.Path != fmt.Sprintf("discover[%d].apps.%s", i, f.App) {
				written = append(written, f.App)
				continue
			}
			envs := make([]string, len(a.Environments))
			for j, e := range a.Environments {
				envs[j] = e.Name
			}
			apps = append(apps, fmt.Sprintf("%s (%s)", f.App, strings.Join(envs, ", ")))
		}
		line := fmt.Sprintf("discover[%d] %q: %d app(s)", i, rule.Pattern, len(apps))
		if len(apps) > 0 {
			line += ": " + strings.Join(apps, ", ")
		}
		if len(written) > 0 {
			line += "; written under apps: or by an earlier rule, so not discovered: " + strings.Join(written, ", ")
		}
		lines[i] = line
	}
	return cfg, lines, nil
}
