package config

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParsePlatformsAndRequire(t *testing.T) {
	in := head + `    build: {base: scratch, files: [{src: "bin/${TARGETARCH}/server", dst: /srv/server}], platforms: [linux/amd64, linux/arm64]}
    environments:
      - name: prod
        path: envs/prod
        release: auto
        platforms: [linux/arm64]
        require: {provenance: true}
`
	c, err := Parse("conveyor.yaml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	a := c.Apps[0]
	if diff := cmp.Diff([]string{"linux/amd64", "linux/arm64"}, a.Build.Platforms); diff != "" {
		t.Errorf("build platforms (-want +got):\n%s", diff)
	}
	e := a.Environments[0]
	if diff := cmp.Diff([]string{"linux/arm64"}, e.Platforms); diff != "" {
		t.Errorf("env platforms (-want +got):\n%s", diff)
	}
	if !e.Require.Provenance || e.Require.Pos.Line != 12 {
		t.Errorf("require %+v, want provenance at line 12", e.Require)
	}
	for p, want := range map[string]bool{"linux/arm64": true, "linux/arm64/v8": true, "linux/amd64": false, "linux/arm": false} {
		if got := e.HasPlatform(p); got != want {
			t.Errorf("HasPlatform(%s) = %v, want %v", p, got, want)
		}
	}
}

func TestPlatformErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string
	}{
		{"bad and duplicate build platforms",
			head + "    build: {base: scratch, platforms: [linux/amd64, Linux/ARM64, linux/amd64]}\n    environments: [{name: dev, path: envs/dev, release: auto}]\n",
			[]string{
				`conveyor.yaml:6:53: apps[0].build.platforms[1]: must be os/architecture[/variant] in lower case, such as linux/arm64, got "Linux/ARM64"`,
				`conveyor.yaml:6:66: apps[0].build.platforms[2]: duplicate platform "linux/amd64" (first listed at line 6)`,
			}},
		{"empty env platforms and a bad require",
			head + "    environments:\n      - name: dev\n        path: envs/dev\n        release: auto\n        platforms: []\n        require: {provenance: yes please, signed: true}\n",
			[]string{
				`conveyor.yaml:10:20: apps[0].environments[0].platforms: list at least one platform, such as linux/amd64, or leave platforms out`,
				`conveyor.yaml:11:31: apps[0].environments[0].require.provenance: expected a boolean (true or false), got string "yes please"`,
				`conveyor.yaml:11:43: apps[0].environments[0].require.signed: unknown field "signed"`,
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("conveyor.yaml", []byte(tc.in))
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Parse error is %T (%v), want Errors", err, err)
			}
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}
