package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/demo"
)

// fixtureRepo commits a copy of one of shared/onboard's fixture
// repositories into a new git repository on main, after edit changes its
// files when given.
func fixtureRepo(t *testing.T, name string, edit ...func(files map[string]string)) *demo.Repo {
	t.Helper()
	src := filepath.Join("..", "..", "shared", "onboard", "testdata", name)
	files := map[string]string{}
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(src, p)
		files[filepath.ToSlash(rel)] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range edit {
		e(files)
	}
	repo, err := demo.InitRepo(filepath.Join(t.TempDir(), name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Commit(files, "manifests before Conveyor", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	return repo
}

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestInitImportsWhatRunsForStatus runs init on a repository already in
// use: status then shows what each environment pins as released, with no
// drift, before Conveyor released anything.
func TestInitImportsWhatRunsForStatus(t *testing.T) {
	repo := fixtureRepo(t, "raw")
	data := filepath.Join(t.TempDir(), "data")
	code, out, errOut := runCLI(t, "init", "--path", repo.Dir, "--reviewers", "alice", "--source", "acme", "--data-dir", data)
	if code != 0 {
		t.Fatalf("init exited %d: %s", code, errOut)
	}
	if !strings.Contains(out, "api/production  sha256:4444") {
		t.Errorf("init did not report the production import:\n%s", out)
	}
	written, err := os.ReadFile(filepath.Join(repo.Dir, "conveyor.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Commit(map[string]string{"conveyor.yaml": string(written)}, "add conveyor.yaml", time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}

	code, out, errOut = runCLI(t, "status", "-o", "json", "--data-dir", data, "--gitops", repo.Dir)
	if code != 0 {
		t.Fatalf("status exited %d: %s", code, errOut)
	}
	type cell struct {
		App, Env, Digest string
		Drift            bool
		ReleasedAt       time.Time `json:"releasedAt"`
	}
	var cells []cell
	if err := json.Unmarshal([]byte(out), &cells); err != nil {
		t.Fatalf("status -o json: %v\n%s", err, out)
	}
	got := map[string]cell{}
	for _, c := range cells {
		got[c.App+"/"+c.Env] = c
	}
	prod := got["api/production"]
	if prod.Digest != "sha256:"+strings.Repeat("4", 64) || prod.Drift || prod.ReleasedAt.IsZero() {
		t.Errorf("status of api/production = %+v, want the imported digest released, no drift", prod)
	}

	// A second init refuses to overwrite what may have been edited.
	code, _, errOut = runCLI(t, "init", "--path", repo.Dir, "--reviewers", "alice", "--no-import")
	if code != 1 || !strings.Contains(errOut, "already exists: give --force") {
		t.Errorf("init over an existing conveyor.yaml exited %d: %s", code, errOut)
	}
	if code, _, errOut = runCLI(t, "init", "--path", repo.Dir, "--reviewers", "alice", "--no-import", "--force"); code != 0 {
		t.Errorf("init --force exited %d: %s", code, errOut)
	}
}

func TestInitNamesTheReviewersFlag(t *testing.T) {
	repo := fixtureRepo(t, "kustomize")
	code, _, errOut := runCLI(t, "init", "--path", repo.Dir, "--no-import")
	if code != 2 || !strings.Contains(errOut, "--reviewers") {
		t.Errorf("init without reviewers exited %d: %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(repo.Dir, "conveyor.yaml")); err == nil {
		t.Error("init wrote conveyor.yaml although it could not propose a valid one")
	}
}

func TestValidateRepo(t *testing.T) {
	repo := fixtureRepo(t, "helm")
	if code, _, errOut := runCLI(t, "init", "--path", repo.Dir, "--reviewers", "alice", "--no-import"); code != 0 {
		t.Fatalf("init exited %d: %s", code, errOut)
	}
	if code, out, errOut := runCLI(t, "validate", "--repo", repo.Dir); code != 0 || !strings.Contains(out, "valid (1 app(s), 3 environment(s))") {
		t.Fatalf("validate --repo of init's file exited %d: %s%s", code, out, errOut)
	}
	if err := os.Remove(filepath.Join(repo.Dir, "charts", "web", "values-prod.yaml")); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(repo.Dir, "conveyor.yaml")
	code, _, errOut := runCLI(t, "validate", "--repo", repo.Dir)
	if code != 1 || !strings.Contains(errOut, file+":") || !strings.Contains(errOut, `.path: "charts/web/values-prod.yaml" does not exist in the repository`) {
		t.Errorf("validate --repo with a missing values file exited %d: %s", code, errOut)
	}
	// Without --repo only the file itself is checked, as before.
	if code, _, errOut := runCLI(t, "validate", file); code != 0 {
		t.Errorf("validate FILE exited %d: %s", code, errOut)
	}
}

func TestSchemaCommandPrintsTheCheckedInSchema(t *testing.T) {
	code, out, errOut := runCLI(t, "schema")
	if code != 0 {
		t.Fatalf("schema exited %d: %s", code, errOut)
	}
	want, err := os.ReadFile(filepath.Join("..", "..", "shared", "config", "conveyor.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	if out != string(want) {
		t.Error("conveyor schema does not print shared/config/conveyor.schema.json")
	}
}

func TestVersion(t *testing.T) {
	code, out, errOut := runCLI(t, "version")
	if code != 0 || !regexp.MustCompile(`^conveyor dev \(revision \S+, go1\.\d+[^,]*, \w+/\w+\)\n$`).MatchString(out) {
		t.Errorf("version exited %d: %q %s", code, out, errOut)
	}
}
