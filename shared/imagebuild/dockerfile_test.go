package imagebuild

import (
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseDockerfile(t *testing.T) {
	mode := fs.FileMode(0o700)
	tests := []struct {
		name       string
		dockerfile string
		args       map[string]string
		want       *Recipe
	}{{
		name: "everything supported",
		dockerfile: `# syntax=docker/dockerfile:1
ARG BASE=alpine:3.20
FROM ${BASE} AS final
ARG VERSION=dev
ENV APP=/srv/app PATH=/srv/bin:$PATH
LABEL org.example.version="${VERSION}" team=payments
WORKDIR $APP
COPY --chown=1000:1001 --chmod=0700 bin/ ./bin/
ADD config.yaml /etc/app/
USER 1000:1001
EXPOSE 8080 53/udp 9000-9001
ENTRYPOINT ["/srv/app/bin/server"]
CMD serve --listen :8080
`,
		args: map[string]string{"VERSION": "1.2.3"},
		want: &Recipe{File: "Dockerfile", Stages: []Stage{{
			Name: "final", Base: "alpine:3.20", Line: 3,
			Steps: []Step{
				{Instruction: Env, Line: 5, Text: "ENV APP=/srv/app PATH=/srv/bin:$PATH", Pairs: []KeyValue{{"APP", "/srv/app"}, {"PATH", "/srv/bin:\x00PATH\x00"}}},
				{Instruction: Label, Line: 6, Text: `LABEL org.example.version="${VERSION}" team=payments`, Pairs: []KeyValue{{"org.example.version", "1.2.3"}, {"team", "payments"}}},
				{Instruction: Workdir, Line: 7, Text: "WORKDIR $APP", Values: []string{"/srv/app"}},
				{Instruction: Copy, Line: 8, Text: "COPY --chown=1000:1001 --chmod=0700 bin/ ./bin/", Sources: []string{"bin/"}, Dest: "./bin/", Chown: &Owner{1000, 1001}, Chmod: &mode},
				{Instruction: Add, Line: 9, Text: "ADD config.yaml /etc/app/", Sources: []string{"config.yaml"}, Dest: "/etc/app/"},
				{Instruction: User, Line: 10, Text: "USER 1000:1001", Values: []string{"1000:1001"}},
				{Instruction: Expose, Line: 11, Text: "EXPOSE 8080 53/udp 9000-9001", Values: []string{"8080/tcp", "53/udp", "9000/tcp", "9001/tcp"}},
				{Instruction: Entrypoint, Line: 12, Text: `ENTRYPOINT ["/srv/app/bin/server"]`, Values: []string{"/srv/app/bin/server"}},
				{Instruction: Cmd, Line: 13, Text: "CMD serve --listen :8080", Values: []string{"/bin/sh", "-c", "serve --listen :8080"}},
			},
		}}},
	}, {
		name: "multi-stage, FROM scratch, --from by name and index",
		dockerfile: `FROM scratch AS assets
COPY static /static
FROM gcr.io/distroless/static:nonroot
ARG NAME
COPY --from=assets /static /srv/static
COPY --from=0 /static/index.html /srv/${NAME}.html
`,
		args: map[string]string{"NAME": "home"},
		want: &Recipe{File: "Dockerfile", Stages: []Stage{
			{Name: "assets", Base: "scratch", Line: 1, Steps: []Step{
				{Instruction: Copy, Line: 2, Text: "COPY static /static", Sources: []string{"static"}, Dest: "/static"},
			}},
			{Base: "gcr.io/distroless/static:nonroot", Line: 3, Steps: []Step{
				{Instruction: Copy, Line: 5, Text: "COPY --from=assets /static /srv/static", Sources: []string{"/static"}, Dest: "/srv/static", From: "assets"},
				{Instruction: Copy, Line: 6, Text: "COPY --from=0 /static/index.html /srv/${NAME}.html", Sources: []string{"/static/index.html"}, Dest: "/srv/home.html", From: "0"},
			}},
		}},
	}, {
		name: "global ARG needs redeclaring inside a stage; ENV overrides ARG",
		dockerfile: `ARG TAG=1
FROM busybox:${TAG} AS base
ARG TAG
ARG X=from-arg
ENV X=from-env
LABEL tag=$TAG x=$X
FROM base
CMD ["a", "b"]
`,
		want: &Recipe{File: "Dockerfile", Stages: []Stage{
			{Name: "base", Base: "busybox:1", Line: 2, Steps: []Step{
				{Instruction: Env, Line: 5, Text: "ENV X=from-env", Pairs: []KeyValue{{"X", "from-env"}}},
				{Instruction: Label, Line: 6, Text: "LABEL tag=$TAG x=$X", Pairs: []KeyValue{{"tag", "1"}, {"x", "from-env"}}},
			}},
			{Base: "busybox:1", Line: 7, Steps: []Step{
				{Instruction: Env, Line: 5, Text: "ENV X=from-env", Pairs: []KeyValue{{"X", "from-env"}}},
				{Instruction: Label, Line: 6, Text: "LABEL tag=$TAG x=$X", Pairs: []KeyValue{{"tag", "1"}, {"x", "from-env"}}},
				{Instruction: Cmd, Line: 8, Text: `CMD ["a", "b"]`, Values: []string{"a", "b"}},
			}},
		}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDockerfile("Dockerfile", strings.NewReader(tt.dockerfile), tt.args)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseDockerfile() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseDockerfileRefusals(t *testing.T) {
	tests := []struct {
		name       string
		dockerfile string
		want       string
	}{
		{"RUN", "FROM alpine\nCOPY . /app\nRUN make\n", "Dockerfile:3: RUN is not supported: Conveyor builds without a container runtime; build binaries in CI and COPY them"},
		{"ADD URL", "FROM alpine\nADD https://example.com/x.tgz /x\n", "Dockerfile:2: ADD of a URL is not supported: https://example.com/x.tgz; download it in CI, check its digest and COPY it"},
		{"HEALTHCHECK", "FROM alpine\nHEALTHCHECK CMD curl -f localhost\n", "Dockerfile:2: HEALTHCHECK is not supported: declare probes in the Kubernetes manifest instead"},
		{"ONBUILD", "FROM alpine\nONBUILD COPY . /\n", "Dockerfile:2: ONBUILD is not supported: Conveyor images are final images, not builder bases"},
		{"SHELL", "FROM alpine\nSHELL [\"/bin/bash\", \"-c\"]\n", "Dockerfile:2: SHELL is not supported: nothing runs a shell at build time; write CMD and ENTRYPOINT in exec form"},
		{"VOLUME", "FROM alpine\nVOLUME /data\n", "Dockerfile:2: VOLUME is not supported: declare volumes in the Kubernetes manifest instead"},
		{"STOPSIGNAL", "FROM alpine\nSTOPSIGNAL SIGINT\n", "Dockerfile:2: STOPSIGNAL is not supported: set the signal in the Kubernetes manifest or handle SIGTERM"},
		{"unknown instruction", "FROM alpine\nFROB x\n", "Dockerfile:2: FROB is not supported: Conveyor builds without a container runtime and supports only FROM, COPY, ADD, ARG, ENV, LABEL, WORKDIR, USER, EXPOSE, ENTRYPOINT and CMD"},
		{"unknown stage", "FROM scratch AS a\nFROM alpine\nCOPY --from=builder /app /app\n", `Dockerfile:3: COPY --from=builder: no earlier stage is named "builder" (copying from an image is not supported)`},
		{"stage index out of range", "FROM alpine\nCOPY --from=1 /app /app\n", "Dockerfile:2: COPY --from=1: there is no earlier stage 1"},
		{"chown by name", "FROM alpine\nCOPY --chown=app:app a /a\n", "Dockerfile:2: COPY --chown=app:app: only a numeric uid[:gid] is supported (names cannot be looked up without a runtime)"},
		{"symbolic chmod", "FROM alpine\nCOPY --chmod=u+x a /a\n", "Dockerfile:2: COPY --chmod=u+x: only octal modes such as 0755 are supported"},
		{"unsupported flag", "FROM alpine\nCOPY --parents a /a\n", "Dockerfile:2: COPY --parents is not supported"},
		{"heredoc", "FROM alpine\nCOPY <<EOF /a\nhello\nEOF\n", "Dockerfile:2: COPY: heredocs are not supported; put the content in a file of the context"},
		{"instruction before FROM", "ENV A=b\nFROM alpine\n", "Dockerfile:1: ENV before the first FROM"},
		{"no FROM", "ARG A=b\n", "Dockerfile: no FROM instruction"},
		{"COPY with one argument", "FROM alpine\nCOPY a\n", "Dockerfile:2: COPY wants at least one source and a destination"},
		{"bad port", "FROM alpine\nEXPOSE http\n", `Dockerfile:2: EXPOSE: port "http" is not a number between 1 and 65535`},
		{"duplicate stage", "FROM alpine AS a\nFROM alpine AS A\n", `Dockerfile:2: FROM: a stage is already named "a"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseDockerfile("Dockerfile", strings.NewReader(tt.dockerfile), nil)
			if err == nil {
				t.Fatal("ParseDockerfile() succeeded, want an error")
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("error mismatch (-want +got):\n%s", diff)
			}
			if !errors.Is(err, ErrInvalidRecipe) || !IsPermanent(err) {
				t.Errorf("error %v: want ErrInvalidRecipe and permanent", err)
			}
		})
	}
}

func TestRecipeFromSpec(t *testing.T) {
	got, err := RecipeFromSpec(Spec{
		Base:       "alpine:3.20",
		Files:      []File{{Src: "bin/server", Dst: "bin/"}},
		Entrypoint: []string{"/app/bin/server"},
		Env:        map[string]string{"B": "2", "A": "1"},
		User:       "65532",
		Workdir:    "/app",
		Labels:     map[string]string{"team": "payments"},
		Expose:     []string{"8080"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := &Recipe{File: "spec", Stages: []Stage{{Base: "alpine:3.20", Steps: []Step{
		{Instruction: Workdir, Text: "WORKDIR /app", Values: []string{"/app"}},
		{Instruction: Copy, Text: "COPY bin/server bin/", Sources: []string{"bin/server"}, Dest: "bin/"},
		{Instruction: Env, Text: "ENV", Pairs: []KeyValue{{"A", "1"}, {"B", "2"}}},
		{Instruction: Label, Text: "LABEL", Pairs: []KeyValue{{"team", "payments"}}},
		{Instruction: User, Text: "USER 65532", Values: []string{"65532"}},
		{Instruction: Expose, Text: "EXPOSE 8080", Values: []string{"8080/tcp"}},
		{Instruction: Entrypoint, Text: `ENTRYPOINT ["/app/bin/server"]`, Values: []string{"/app/bin/server"}},
	}}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("RecipeFromSpec() mismatch (-want +got):\n%s", diff)
	}
	if _, err := RecipeFromSpec(Spec{}); err == nil || !errors.Is(err, ErrInvalidRecipe) {
		t.Errorf("RecipeFromSpec(Spec{}) = %v, want ErrInvalidRecipe", err)
	}
}

func FuzzParseDockerfile(f *testing.F) {
	for _, seed := range []string{
		"FROM alpine\nCOPY . /app\n",
		"ARG A=1\nFROM b:${A} AS x\nENV K=v L=\"${K:-d}\"\nLABEL a=b\nEXPOSE 80 1-3/udp\nCMD echo hi\n",
		"FROM scratch AS a\nCOPY --from=a --chown=1:2 --chmod=755 x y/\nFROM a\nENTRYPOINT [\"x\"]\n",
		"FROM x\nRUN y\n",
		"# escape=`\nFROM x\nCOPY a `\n b\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, dockerfile string) {
		r, err := ParseDockerfile("Dockerfile", strings.NewReader(dockerfile), map[string]string{"A": "2"})
		if err == nil && len(r.Stages) == 0 {
			t.Fatal("no error and no stages")
		}
		if err != nil && !IsPermanent(err) {
			t.Fatalf("parse error %v is not permanent", err)
		}
	})
}
