package config

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want []string
	}{
		{
			name: "unknown key with suggestion",
			in: `version: 1
apps:
- name: web
  sourc: {repo: acme/web}
  image: acme/web
  environments: [{name: dev, path: envs/dev, relase: auto, colour: red, release: auto}]
`,
			want: []string{
				`conveyor.yaml:3:3: apps[0]: missing required field "source"`,
				`conveyor.yaml:4:3: apps[0].sourc: unknown field "sourc" (did you mean "source"?)`,
				`conveyor.yaml:6:46: apps[0].environments[0].relase: unknown field "relase" (did you mean "release"?)`,
				`conveyor.yaml:6:60: apps[0].environments[0].colour: unknown field "colour"`,
			},
		},
		{
			name: "missing required fields",
			in:   "version: 1\napps:\n  - name: web\n    source: {branch: main}\n    environments:\n      - {strategy: raw, release: auto}\n",
			want: []string{
				`conveyor.yaml:3:5: apps[0]: missing required field "image"`,
				`conveyor.yaml:4:13: apps[0].source: missing required field "repo"`,
				`conveyor.yaml:6:9: apps[0].environments[0]: missing required field "name"`,
				`conveyor.yaml:6:9: apps[0].environments[0]: missing required field "path"`,
			},
		},
		{
			name: "missing version and apps",
			in:   "gitops: {branch: main}\n",
			want: []string{
				`conveyor.yaml:1:1: missing required field "version"`,
				`conveyor.yaml:1:1: missing required field "apps"`,
			},
		},
		{
			name: "version 2",
			in:   "version: 2\n" + head[len("version: 1\n"):] + "    environments: [{name: dev, path: envs/dev, release: auto}]\n",
			want: []string{`conveyor.yaml:1:10: version: unsupported version 2: must be 1`},
		},
		{
			name: "bad names",
			in: `version: 1
apps:
  - name: Web_App
    source: {repo: acme/web}
    image: acme/web
    environments:
      - {name: -dev, path: envs/dev, release: auto}
`,
			want: []string{
				`conveyor.yaml:3:11: apps[0].name: must be a DNS label (lowercase letters, digits and '-', at most 63, starting and ending with a letter or digit), got "Web_App"`,
				`conveyor.yaml:7:16: apps[0].environments[0].name: must be a DNS label (lowercase letters, digits and '-', at most 63, starting and ending with a letter or digit), got "-dev"`,
			},
		},
		{
			name: "duplicate app and environment names",
			in: head + `    environments:
      - {name: dev, path: envs/dev, release: auto}
      - {name: dev, path: envs/dev2, release: auto}
  - name: web
    source: {repo: acme/web}
    image: acme/web
    environments: [{name: dev, path: envs/dev, release: auto}]
`,
			want: []string{
				`conveyor.yaml:8:16: apps[0].environments[1].name: duplicate environment name "dev" (first used at line 7)`,
				`conveyor.yaml:9:11: apps[1].name: duplicate app name "web" (first used at line 3)`,
			},
		},
		{
			name: "image with tag",
			in:   strings.Replace(head, "image: acme/web", "image: registry.example.com:5000/acme/web:1.0", 1) + "    environments: [{name: dev, path: envs/dev, release: auto}]\n",
			want: []string{`conveyor.yaml:5:12: apps[0].image: must be an image repository without a tag, got "registry.example.com:5000/acme/web:1.0": select tags with tags.glob or tags.semver`},
		},
		{
			name: "image with digest",
			in:   strings.Replace(head, "image: acme/web", "image: acme/web@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", 1) + "    environments: [{name: dev, path: envs/dev, release: auto}]\n",
			want: []string{`conveyor.yaml:5:12: apps[0].image: must be an image repository without a digest, got "acme/web@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef": Conveyor adds the digest it promotes`},
		},
		{
			name: "image not lowercase",
			in:   strings.Replace(head, "image: acme/web", "image: Acme/Web", 1) + "    environments: [{name: dev, path: envs/dev, release: auto}]\n",
			want: []string{`conveyor.yaml:5:12: apps[0].image: invalid image repository "Acme/Web": path component "Acme" must be lowercase letters and digits, separated by '.', '_' or '-'`},
		},
		{
			name: "dockerfile and base together",
			in: head + `    build:
      dockerfile: Dockerfile
      base: gcr.io/distroless/static:nonroot
      args: {1BAD: x}
    environments: [{name: dev, path: envs/dev, release: auto}]
`,
			want: []string{
				`conveyor.yaml:8:13: apps[0].build.base: cannot be combined with dockerfile: choose a Dockerfile or the Dockerfile-less form`,
				`conveyor.yaml:9:13: apps[0].build.args: only allowed with dockerfile`,
				`conveyor.yaml:9:20: apps[0].build.args.1BAD: invalid build arg name "1BAD"`,
			},
		},
		{
			name: "Dockerfile-less settings without base",
			in: head + `    build:
      entrypoint: [/app]
      files: [{src: /etc/passwd, dst: app}]
    environments: [{name: dev, path: envs/dev, release: auto}]
`,
			want: []string{
				`conveyor.yaml:7:19: apps[0].build.entrypoint: only allowed with base (the Dockerfile-less form); a Dockerfile sets this itself`,
				`conveyor.yaml:8:14: apps[0].build.files: only allowed with base (the Dockerfile-less form); a Dockerfile sets this itself`,
				`conveyor.yaml:8:21: apps[0].build.files[0].src: must be a relative path, got "/etc/passwd"`,
				`conveyor.yaml:8:39: apps[0].build.files[0].dst: must be an absolute path in the image, got "app"`,
			},
		},
		{
			name: "bad strategy, release and merge method",
			in: head + `    environments:
      - name: dev
        path: envs/dev
        strategy: jsonnet
        release: sometimes
        mergeMethod: fast-forward
`,
			want: []string{
				`conveyor.yaml:9:19: apps[0].environments[0].strategy: must be one of kustomize, helm, raw or marker, got "jsonnet"`,
				`conveyor.yaml:10:18: apps[0].environments[0].release: must be "auto" or "manual", got "sometimes"`,
				`conveyor.yaml:11:22: apps[0].environments[0].mergeMethod: must be "merge", "squash" or "rebase", got "fast-forward"`,
			},
		},
		{
			name: "helm block without strategy helm, and bad helm blocks",
			in: head + `    environments:
      - name: dev
        path: envs/dev
        strategy: kustomize
        release: auto
        helm: {image: image.ref}
      - name: staging
        path: envs/staging
        strategy: helm
        release: auto
        helm: {image: image.ref, tag: image.tag}
      - name: prod
        path: envs/prod
        strategy: helm
        release: auto
        helm: {repository: image.repository}
      - name: qa
        path: envs/qa
        strategy: helm
        release: auto
`,
			want: []string{
				`conveyor.yaml:11:15: apps[0].environments[0].helm: only allowed with strategy "helm"`,
				`conveyor.yaml:16:23: apps[0].environments[1].helm.image: cannot be combined with repository, digest or tag`,
				`conveyor.yaml:21:28: apps[0].environments[2].helm.repository: needs digest and/or tag as well`,
				`conveyor.yaml:22:9: apps[0].environments[3]: missing required field "helm"`,
			},
		},
		{
			name: "helm paths that cannot all be written; repository with tag alone is valid",
			in: head + `    environments:
      - name: dev
        path: envs/dev/values.yaml
        strategy: helm
        release: auto
        helm: {repository: image.tag, tag: image.tag}
      - name: staging
        path: envs/staging/values.yaml
        strategy: helm
        release: auto
        helm: {repository: image, tag: image.tag}
      - name: prod
        path: envs/prod/values.yaml
        strategy: helm
        release: auto
        helm: {repository: image.repository, tag: image.tag}
`,
			want: []string{
				`conveyor.yaml:11:44: apps[0].environments[0].helm.tag: "image.tag" is also helm.repository: one value cannot hold both`,
				`conveyor.yaml:16:40: apps[0].environments[1].helm.tag: "image.tag" and helm.repository "image" overlap: a value cannot be both a string and a map`,
			},
		},
		{
			name: "several paths and the manifests' image name",
			in: head + `    environments:
      - name: dev
        path: envs/dev
        paths: [envs/dev2]
        release: auto
      - name: staging
        paths: []
        release: auto
      - name: prod
        paths: [envs/prod-eu, ../outside, envs/prod-eu/]
        image: {name: "ghcr.io/x/app:1.0"}
        release: auto
      - name: qa
        paths: [envs/qa-eu, envs/qa-us]
        image: {}
        release: auto
`,
			want: []string{
				`conveyor.yaml:9:16: apps[0].environments[0].paths: cannot be combined with path: list every path under paths`,
				`conveyor.yaml:12:16: apps[0].environments[1].paths: must list at least one file or directory`,
				`conveyor.yaml:15:31: apps[0].environments[2].paths[1]: must not escape the repository with "..", got "../outside"`,
				`conveyor.yaml:15:43: apps[0].environments[2].paths[2]: "envs/prod-eu/" is listed twice`,
				`conveyor.yaml:16:23: apps[0].environments[2].image.name: must be an image repository without a tag, got "ghcr.io/x/app:1.0": select tags with tags.glob or tags.semver`,
				`conveyor.yaml:20:16: apps[0].environments[3].image: missing required field "name"`,
			},
		},
		{
			name: "reviewers and approvals",
			in: head + `    environments:
      - name: dev
        path: envs/dev
        release: auto
        reviewers: [alice]
      - name: prod
        path: envs/prod
        reviewers: [alice, acme/sre]
        approvals: 3
      - name: dr
        path: envs/dr
        reviewers: [alice, "not a user", Alice]
        approvals: -1
`,
			want: []string{
				`conveyor.yaml:10:20: apps[0].environments[0].reviewers: only allowed with release "manual"`,
				`conveyor.yaml:14:20: apps[0].environments[1].approvals: 3 approvals required but only 2 reviewers listed`,
				`conveyor.yaml:17:28: apps[0].environments[2].reviewers[1]: must be a GitHub user or an "org/team" slug, got "not a user"`,
				`conveyor.yaml:17:42: apps[0].environments[2].reviewers[2]: duplicate reviewer "Alice"`,
				`conveyor.yaml:18:20: apps[0].environments[2].approvals: must be 0 or more, got -1`,
			},
		},
		{
			name: "manual release without reviewers",
			in: head + `    environments:
      - name: dev
        path: envs/dev
      - name: staging
        path: envs/staging
        release: manual
      - {name: qa, path: envs/qa, release: manual, reviewers: []}
      - {name: prod, path: envs/prod, release: manual, reviewers: [alice]}
      - {name: preview, path: envs/preview, release: auto}
`,
			want: []string{
				`conveyor.yaml:7:9: apps[0].environments[0]: environment "dev" is released manually (the default) but lists no reviewers, so anyone who can approve a pull request could release it: add reviewers: [user or org/team], or set release: auto`,
				`conveyor.yaml:11:18: apps[0].environments[1].release: environment "staging" is released manually but lists no reviewers, so anyone who can approve a pull request could release it: add reviewers: [user or org/team], or set release: auto`,
				`conveyor.yaml:12:63: apps[0].environments[2].reviewers: environment "qa" is released manually but lists no reviewers, so anyone who can approve a pull request could release it: add reviewers: [user or org/team], or set release: auto`,
			},
		},
		{
			name: "bad freeze windows",
			in: head + `    environments:
      - name: prod
        path: envs/prod
        freeze:
          - cron: "0 25 * * *"
            duration: 3 days
            timezone: Mars/Olympus
          - cron: "@weekly"
            duration: -1h
          - {cron: "0 18 * * FRI"}
        reviewers: [alice]
`,
			want: []string{
				`conveyor.yaml:10:19: apps[0].environments[0].freeze[0].cron: invalid cron expression "0 25 * * *": end of range (25) above maximum (23): 25 (want minute hour day-of-month month day-of-week)`,
				`conveyor.yaml:11:23: apps[0].environments[0].freeze[0].duration: invalid duration "3 days": use a Go duration such as "64h" or "90m"`,
				`conveyor.yaml:12:23: apps[0].environments[0].freeze[0].timezone: unknown time zone "Mars/Olympus": use an IANA name such as "Europe/Paris"`,
				`conveyor.yaml:13:19: apps[0].environments[0].freeze[1].cron: invalid cron expression "@weekly": parser does not accept descriptors: @weekly (want minute hour day-of-month month day-of-week)`,
				`conveyor.yaml:14:23: apps[0].environments[0].freeze[1].duration: must be greater than 0, got -1h0m0s`,
				`conveyor.yaml:15:13: apps[0].environments[0].freeze[2]: missing required field "duration"`,
			},
		},
		{
			name: "bad settle windows",
			in: "version: 1\nsettle: soon\n" + head[len("version: 1\n"):] + `    build: {latestOnly: maybe}
    environments:
      - {name: dev, path: envs/dev, release: auto, settle: -5s}
      - {name: qa, path: envs/qa, release: auto, settle: 48h}
      - {name: prod, path: envs/prod, release: auto, settle: [1m]}
`,
			want: []string{
				`conveyor.yaml:2:9: settle: invalid duration "soon": use a Go duration such as "64h" or "90m"`,
				`conveyor.yaml:7:25: apps[0].build.latestOnly: expected a boolean (true or false), got string "maybe"`,
				`conveyor.yaml:9:60: apps[0].environments[0].settle: must be 0 or more, got -5s`,
				`conveyor.yaml:10:58: apps[0].environments[1].settle: must be at most 24h0m0s, got 48h0m0s`,
				`conveyor.yaml:11:62: apps[0].environments[2].settle: expected a string, got a list`,
			},
		},
		{
			name: "bad semver constraint and tag glob",
			in: head + `    tags:
      glob: ["sha-[", ""]
      semver: ">=1.0.0 <<2"
    environments: [{name: dev, path: envs/dev, release: auto}]
`,
			want: []string{
				`conveyor.yaml:7:14: apps[0].tags.glob[0]: invalid glob "sha-["`,
				`conveyor.yaml:7:23: apps[0].tags.glob[1]: invalid glob ""`,
				`conveyor.yaml:8:15: apps[0].tags.semver: invalid semver constraint: improper constraint: ">=1.0.0 <<2"`,
			},
		},
		{
			name: "paths escaping with ..",
			in: `version: 1
apps:
  - name: web
    source: {repo: acme/web, paths: ["../secrets/**", "src/a**b"]}
    image: acme/web
    build: {context: services/../.., dockerfile: ../Dockerfile}
    environments: [{name: dev, path: envs/../../etc, release: auto}]
`,
			want: []string{
				`conveyor.yaml:4:38: apps[0].source.paths[0]: must not escape the repository with "..", got "../secrets/**"`,
				`conveyor.yaml:4:55: apps[0].source.paths[1]: invalid glob "src/a**b": ** must be a whole path segment`,
				`conveyor.yaml:6:22: apps[0].build.context: must not escape the repository with "..", got "services/../.."`,
				`conveyor.yaml:6:50: apps[0].build.dockerfile: must not escape the repository with "..", got "../Dockerfile"`,
				`conveyor.yaml:7:38: apps[0].environments[0].path: must not escape the repository with "..", got "envs/../../etc"`,
			},
		},
		{
			name: "wrong types",
			in: `version: "1"
gitops: [main]
apps:
  - name: web
    source: acme/web
    image: [acme/web]
    build: {args: [A=1]}
    environments:
      - name: dev
        path: envs/dev
        approvals: two
        keepTag: yes
        reviewers: alice
`,
			want: []string{
				`conveyor.yaml:1:10: version: expected an integer, got string "1"`,
				`conveyor.yaml:2:9: gitops: expected a map, got a list`,
				`conveyor.yaml:5:13: apps[0].source: expected a map, got string "acme/web"`,
				`conveyor.yaml:6:12: apps[0].image: expected a string, got a list`,
				`conveyor.yaml:7:19: apps[0].build.args: expected a map, got a list`,
				`conveyor.yaml:11:20: apps[0].environments[0].approvals: expected an integer, got string "two"`,
				`conveyor.yaml:12:18: apps[0].environments[0].keepTag: expected a boolean (true or false), got string "yes"`,
				`conveyor.yaml:13:20: apps[0].environments[0].reviewers: expected a list, got string "alice"`,
			},
		},
		{
			name: "top level is a list",
			in:   "- version: 1\n",
			want: []string{`conveyor.yaml:1:1: expected a map, got a list`},
		},
		{
			name: "yaml syntax error",
			in:   "version: 1\napps:\n  - name: web\n    source: {repo: acme/web\n",
			want: []string{`conveyor.yaml:4: syntax error: did not find expected ',' or '}'`},
		},
		{
			name: "yaml syntax error on the first line",
			in:   "version: 1: 2\n",
			want: []string{`conveyor.yaml:1: syntax error: mapping values are not allowed in this context`},
		},
		{
			name: "bad indentation",
			in:   "version: 1\napps:\n  - name: web\n image: x\n",
			want: []string{`conveyor.yaml:4: syntax error: did not find expected key`},
		},
		{
			name: "unknown anchor",
			in:   "version: 1\napps: *apps\n",
			want: []string{`conveyor.yaml:2:7: syntax error: unknown anchor 'apps' referenced`},
		},
		{
			name: "two documents",
			in:   "version: 1\n---\nversion: 1\n",
			want: []string{`conveyor.yaml:2:1: more than one YAML document: conveyor.yaml holds exactly one`},
		},
		{
			name: "empty document",
			in:   "# nothing yet\n",
			want: []string{`conveyor.yaml:1:1: document is empty: version and apps are required`},
		},
		{
			name: "duplicate key",
			in:   head + "    image: acme/other\n    environments: [{name: dev, path: envs/dev, path: envs/dev2, release: auto}]\n",
			want: []string{
				`conveyor.yaml:6:5: apps[0].image: duplicate key "image" (first defined at line 5)`,
				`conveyor.yaml:7:48: apps[0].environments[0].path: duplicate key "path" (first defined at line 7)`,
			},
		},
		{
			name: "empty lists and values",
			in:   "version: 1\ngitops: {branch: \"feature..x\", author: {email: nobody}}\napps:\n  - name: \"\"\n    source: {repo: \"http://example.com/acme/web\"}\n    image: acme/web\n    environments: []\n",
			want: []string{
				`conveyor.yaml:2:18: gitops.branch: invalid git branch name "feature..x"`,
				`conveyor.yaml:2:48: gitops.author.email: invalid email address "nobody"`,
				`conveyor.yaml:4:11: apps[0].name: must not be empty`,
				`conveyor.yaml:5:20: apps[0].source.repo: must be an https URL, a file:// URL, an absolute path or "owner/name", got "http://example.com/acme/web" (plain http only to a loopback host)`,
				`conveyor.yaml:7:19: apps[0].environments: at least one environment is required`,
			},
		},
		{
			name: "bad expose, workdir and base",
			in: head + `    build:
      base: "Gcr.io/distroless:"
      workdir: app
      expose: ["80/sctp", "70000", http]
    environments: [{name: dev, path: envs/dev, release: auto}]
`,
			want: []string{
				`conveyor.yaml:7:13: apps[0].build.base: invalid tag "" in image reference "Gcr.io/distroless:"`,
				`conveyor.yaml:8:16: apps[0].build.workdir: must be an absolute path, got "app"`,
				`conveyor.yaml:9:16: apps[0].build.expose[0]: must be "port" or "port/proto" with proto tcp or udp, got "80/sctp"`,
				`conveyor.yaml:9:27: apps[0].build.expose[1]: port 70000 out of range 1-65535`,
				`conveyor.yaml:9:36: apps[0].build.expose[2]: must be "port" or "port/proto" with proto tcp or udp, got "http"`,
			},
		},
		{
			name: "merge key of the wrong type",
			in:   head + "    environments:\n      - <<: [x]\n        name: dev\n        path: envs/dev\n",
			want: []string{`conveyor.yaml:7:13: apps[0].environments[0]: merge key << expects a map or a list of maps, got string "x"`},
		},
		{
			name: "null list items",
			in:   head + "    environments:\n      -\n      - {name: dev, path: envs/dev, freeze: [~], release: auto}\n  -\n",
			want: []string{
				`conveyor.yaml:7:8: apps[0].environments[0]: expected a map, got null`,
				`conveyor.yaml:8:46: apps[0].environments[1].freeze[0]: expected a map, got null`,
				`conveyor.yaml:9:4: apps[1]: expected a map, got null`,
			},
		},
		{
			name: "a mistake in an anchor is reported at each use",
			in:   head + "    environments:\n      - &e {name: dev, path: envs/dev, keeptag: true, release: auto}\n      - <<: *e\n        name: prod\n",
			want: []string{`conveyor.yaml:7:40: apps[0].environments[0].keeptag: unknown field "keeptag" (did you mean "keepTag"?)`,
				`conveyor.yaml:7:40: apps[0].environments[1].keeptag: unknown field "keeptag" (did you mean "keepTag"?)`},
		},
		{
			name: "oversize input",
			in:   head + strings.Repeat("#", MaxSize),
			want: []string{"conveyor.yaml: file is " + strconv.Itoa(len(head)+MaxSize) + " bytes, over the 4194304-byte limit"},
		},
		{
			name: "alias bomb",
			in:   aliasBomb(),
			want: []string{`conveyor.yaml:14:20: more than 100 aliases: refusing a possible alias bomb`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse("conveyor.yaml", []byte(tc.in))
			if err == nil {
				t.Fatalf("Parse succeeded, want errors; config: %+v", cfg)
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Parse error is %T, want Errors", err)
			}
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Parse errors mismatch (-want +got):\n%s", diff)
			}
			if cfg != nil {
				t.Errorf("Parse returned a config with errors")
			}
		})
	}
}

// aliasBomb is the billion laughs in YAML: each line holds nine aliases of
// the line before.
func aliasBomb() string {
	var b strings.Builder
	b.WriteString("version: 1\nlol0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i <= 15; i++ {
		b.WriteString("lol" + strconv.Itoa(i) + ": &l" + strconv.Itoa(i) + " [")
		for j := range 9 {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*l" + strconv.Itoa(i-1))
		}
		b.WriteString("]\n")
	}
	return b.String()
}
