package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/awsenv"
	"github.com/conveyor-gitops/conveyor/shared/demo"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/local"
	"github.com/conveyor-gitops/conveyor/shared/promote"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/queue/sqsqueue"
	"github.com/conveyor-gitops/conveyor/shared/state"
	"github.com/conveyor-gitops/conveyor/shared/state/dynamostate"
	"github.com/conveyor-gitops/conveyor/test/emulator"
	"github.com/google/go-cmp/cmp"
)

// cliImage is the demo app's image: a registry that refuses connections at
// once, so reading image facts fails fast.
const cliImage = "127.0.0.1:1/acme/web"

func cliDigest(n int) string { return fmt.Sprintf("sha256:%064x", n) }

// cliGitOps is a GitOps repository for the demo pipeline whose base branch
// pins dev to digest 2, staging to digest 3 (edited out of band: the
// records say 1) and prod to digest 7: its working copy (for the
// local runtime) and the same commits served over git smart HTTP (for the
// stack), which accepts pushes.
func cliGitOps(t *testing.T) (dir, url string) {
	t.Helper()
	root := t.TempDir()
	repo, err := demo.InitRepo(filepath.Join(root, "work"))
	if err != nil {
		t.Fatal(err)
	}
	files := demo.GitOpsFiles("/src/web", cliImage)
	for env, d := range map[string]string{"dev": cliDigest(2), "staging": cliDigest(3), "prod": cliDigest(7)} {
		k := "envs/" + env + "/kustomization.yaml"
		files[k] += "    digest: " + d + "\n"
	}
	if _, err := repo.Commit(files, "init", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	git := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("git", args...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v: %s", args, err, out)
		}
	}
	bare := filepath.Join(root, "srv", "gitops.git")
	git("clone", "-q", "--bare", repo.Dir, bare)
	git("-C", bare, "config", "http.receivepack", "true")
	gitPath, err := exec.LookPath("git")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(&cgi.Handler{Path: gitPath, Args: []string{"http-backend"},
		Env:        []string{"GIT_PROJECT_ROOT=" + filepath.Dir(bare), "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_GLOBAL=/dev/null"},
		InheritEnv: []string{"PATH"}})
	t.Cleanup(srv.Close)
	return repo.Dir, srv.URL + "/gitops.git"
}

// cliReleases are the records both backends are seeded with: dev ran
// digest 1 then 2, staging runs 1 (approved by alice), prod runs 7 and has
// PR #3 open for 1.
func cliReleases() []state.Release {
	at := func(h int) time.Time { return time.Date(2026, 11, 2, h, 0, 0, 0, time.UTC) }
	rel := func(env string, d int, st state.ReleaseState, pr int, merged time.Time) state.Release {
		return state.Release{ID: promote.ReleaseID("web", env, cliDigest(d)), App: "web", Env: env, Image: cliImage, Digest: cliDigest(d),
			Tag: fmt.Sprintf("sha-%d", d), SourceRepo: "/src/web", SourceCommit: fmt.Sprintf("%040d", d), SourceTime: at(d),
			State: st, PR: pr, MergedAt: merged, MergedBy: "conveyor"}
	}
	r1, r2 := rel("dev", 1, state.Merged, 1, at(3)), rel("dev", 2, state.Merged, 2, at(5))
	s1 := rel("staging", 1, state.Merged, 4, at(4))
	s1.ApprovedBy = []string{"alice"}
	p1 := rel("prod", 1, state.Proposed, 3, time.Time{})
	p1.MergedBy = ""
	p7 := rel("prod", 7, state.Merged, 5, at(9))
	p7.ApprovedBy = []string{"alice", "bob"}
	return []state.Release{r1, r2, s1, p7, p1}
}

// seedQueues leaves the same messages on any backend's queues: two
// visible builds, one promotion in flight, and two dead letters with
// their reasons.
func seedQueues(t *testing.T, ctx context.Context, open func(name string) queue.Queue) {
	t.Helper()
	send := func(name string, kind event.Kind, payload any, group string) queue.Queue {
		env, err := event.New(kind, "conveyor", "", "", payload, time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC))
		if err != nil {
			t.Fatal(err)
		}
		body, err := env.Encode()
		if err != nil {
			t.Fatal(err)
		}
		q := open(name)
		if _, err := q.Send(ctx, queue.SendInput{Body: body, GroupID: group, Attributes: map[string]string{queue.AttrApp: "web", queue.AttrKind: string(kind)}}); err != nil {
			t.Fatal(err)
		}
		return q
	}
	receive := func(q queue.Queue) queue.Message {
		t.Helper()
		for range 20 {
			msgs, err := q.Receive(ctx, 1, 10*time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) == 1 {
				return msgs[0]
			}
		}
		t.Fatalf("nothing to receive on %s", q.Name())
		return queue.Message{}
	}
	push := event.Push{Repository: "acme/web", Ref: "refs/heads/main", After: "abc"}
	send(queue.Builds, event.KindPush, push, "")
	send(queue.Builds, event.KindPush, push, "")
	p := event.Promotion{App: "web", Environment: "prod", Image: cliImage, Digest: cliDigest(1)}
	receive(send(queue.Promotions, event.KindPromotion, p, p.GroupID()))
	img := event.Promotion{App: "web", Environment: "dev", Image: cliImage, Digest: cliDigest(9)}
	q := send(queue.Images, event.KindPromotion, img, "")
	if err := q.DeadLetter(ctx, receive(q).ReceiptHandle, "resolving the digest: manifest unknown"); err != nil {
		t.Fatal(err)
	}
	st := event.Promotion{App: "web", Environment: "staging", Image: cliImage, Digest: cliDigest(8)}
	q = send(queue.Approvals, event.KindPromotion, st, "")
	if err := q.DeadLetter(ctx, receive(q).ReceiptHandle, "confirming the review: forge said 404"); err != nil {
		t.Fatal(err)
	}
}

// localBackend seeds a data directory and returns the flags that select it.
func localBackend(t *testing.T, gitopsDir string) []string {
	t.Helper()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	rt, err := local.Open(ctx, local.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	for _, r := range cliReleases() {
		if err := rt.State.PutRelease(ctx, &r); err != nil {
			t.Fatal(err)
		}
	}
	seedQueues(t, ctx, func(name string) queue.Queue {
		q, err := rt.Queues.Queue(name)
		if err != nil {
			t.Fatal(err)
		}
		return q
	})
	return []string{"--data-dir", dir, "--gitops", gitopsDir}
}

// stackEnv points the AWS SDK at the emulators and names the stack's
// resources as the functions' variables do, so no CloudFormation is read.
func stackEnv(t *testing.T, sqsSrv, dynamo *emulator.Server, table string, urls map[string]sqsqueue.URLs, gitopsURL string) {
	t.Helper()
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL_SQS": sqsSrv.Endpoint, "AWS_ENDPOINT_URL_DYNAMODB": dynamo.Endpoint, "AWS_REGION": emulator.Region,
		"AWS_ACCESS_KEY_ID": "conveyor", "AWS_SECRET_ACCESS_KEY": "conveyor", "AWS_CONFIG_FILE": os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE": os.DevNull, "AWS_EC2_METADATA_DISABLED": "true", awsenv.VarEndpoint: "",
		awsenv.VarTable: table, awsenv.VarGitOpsRepo: gitopsURL, varStack: "",
	} {
		t.Setenv(k, v)
	}
	for name, u := range urls {
		t.Setenv(awsenv.QueueVar(name, false), u.Queue)
		t.Setenv(awsenv.QueueVar(name, true), u.DeadLetter)
	}
}

// awsBackend creates and seeds the stack's table and queues on the
// emulators through the AWS adapters and returns the flags that select it.
func awsBackend(t *testing.T, gitopsURL string) ([]string, *dynamostate.Store) {
	t.Helper()
	ctx := context.Background()
	dynamo, sqsSrv := emulator.StartDynamo(t), emulator.StartSQS(t)
	store, err := dynamostate.New(dynamo.DynamoDB(), "conveyor-cli")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CreateTable(ctx); err != nil {
		t.Fatal(err)
	}
	for _, r := range cliReleases() {
		if err := store.PutRelease(ctx, &r); err != nil {
			t.Fatal(err)
		}
	}
	urls := map[string]sqsqueue.URLs{}
	queues := map[string]*sqsqueue.Queue{}
	for _, s := range queue.Topology {
		u, err := sqsqueue.CreateQueues(ctx, sqsSrv.SQS(), s)
		if err != nil {
			t.Fatal(err)
		}
		urls[s.Name] = u
		if queues[s.Name], err = sqsqueue.New(sqsSrv.SQS(), u.Queue, sqsqueue.WithDeadLetterQueue(u.DeadLetter), sqsqueue.WithReasons(store)); err != nil {
			t.Fatal(err)
		}
	}
	seedQueues(t, ctx, func(name string) queue.Queue { return queues[name] })
	stackEnv(t, sqsSrv, dynamo, store.Table(), urls, gitopsURL)
	return []string{"--stack", "conveyor-test"}, store
}

func cli(t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("conveyor %s: exit %d: %s", strings.Join(args, " "), code, stderr.String())
	}
	return stdout.String()
}

// TestStackPrintsWhatLocalPrints: the same records and messages on a data
// directory and on a stack (DynamoDB and SQS emulators, the GitOps
// repository over smart HTTP) give the same status, history, metrics,
// queues and dead letters.
func TestStackPrintsWhatLocalPrints(t *testing.T) {
	dir, url := cliGitOps(t)
	localFlags := localBackend(t, dir)
	stackFlags, _ := awsBackend(t, url)
	// Message ids, receive counts and dead-letter times are each backend's
	// own; the rest are the same facts.
	replayCols := regexp.MustCompile(`(?m)^(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\d+)\s+(\S+ \S+)\s+(.*)$`)
	for _, tc := range []struct {
		name string
		args []string
		norm func(string) string
	}{
		{"status", []string{"status"}, func(s string) string {
			// Git's truth is shown: staging's out-of-band edit is drift.
			if !regexp.MustCompile(`(?m)^web\s+staging .*DRIFT`).MatchString(s) {
				t.Errorf("status shows no drift for staging:\n%s", s)
			}
			return s
		}},
		{"status json", []string{"status", "-o", "json"}, nil},
		{"history", []string{"history", "web"}, nil},
		{"metrics", []string{"metrics", "-o", "json", "--since", "8760h"}, func(s string) string {
			return regexp.MustCompile(`"(since|until)": ?"[^"]*"`).ReplaceAllString(s, `"$1":"-"`)
		}},
		{"queues", []string{"queues"}, nil},
		{"replay list", []string{"replay", "list"}, func(s string) string {
			_, rows, _ := strings.Cut(s, "\n") // the header's width follows the ids
			return replayCols.ReplaceAllString(rows, "$2 $3 $4 $7")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			norm := tc.norm
			if norm == nil {
				norm = func(s string) string { return s }
			}
			args := func(flags []string) []string {
				if tc.name == "queues" || tc.name == "replay list" {
					flags = flags[:2] // no --gitops
				}
				return append(append([]string{}, tc.args...), flags...)
			}
			want := norm(cli(t, args(localFlags)...))
			got := norm(cli(t, args(stackFlags)...))
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("conveyor %s: stack vs local (-local +stack):\n%s", strings.Join(tc.args, " "), diff)
			}
			t.Logf("%s", got)
		})
	}
	// show finds a dead letter by id on SQS too; redrive moves it back.
	var recs []struct {
		ID, Queue, Reason string
	}
	if err := json.Unmarshal([]byte(cli(t, "replay", "list", "-o", "json", "--queue", "images", "--stack", "conveyor-test")), &recs); err != nil || len(recs) != 1 {
		t.Fatalf("replay list --json = %+v, %v; want the images dead letter", recs, err)
	}
	if out := cli(t, "replay", "show", recs[0].ID, "--stack", "conveyor-test"); !regexp.MustCompile(`reason:\s+resolving the digest: manifest unknown`).MatchString(out) {
		t.Errorf("replay show %s = %s; want its reason", recs[0].ID, out)
	}
	if out := cli(t, "replay", "redrive", "--stack", "conveyor-test", recs[0].ID); !strings.Contains(out, "moved 1, skipped 0, failed 0") {
		t.Errorf("replay redrive = %s; want one moved", out)
	}
	if out := cli(t, "queues", "--stack", "conveyor-test"); !regexp.MustCompile(`images\s+1\s+0\s+0\s+0`).MatchString(out) {
		t.Errorf("after redrive, queues = %s; want the images message back, visible", out)
	}
	// SQS hides what it lists: listing must give it back.
	if out := cli(t, "queues", "--stack", "conveyor-test"); !regexp.MustCompile(`approvals\s+0\s+0\s+0\s+1`).MatchString(out) {
		t.Errorf("after replay list, queues = %s; want the approvals dead letter counted, visible again", out)
	}
}

// fakeGitHub answers the GitHub REST calls a promotion makes (list open
// pull requests, create one, label it, request reviewers) under /api-v3/,
// for token only, and keeps the created pull request's request.
type fakeGitHub struct {
	t       *testing.T
	token   string
	created map[string]any
}

func (g *fakeGitHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "token "+g.token {
		g.t.Errorf("%s %s without the operator's token", r.Method, r.URL.Path)
		http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	switch key := r.Method + " " + r.URL.Path; key {
	case "GET /api-v3/repos/acme/gitops/pulls":
		io.WriteString(w, "[]")
	case "POST /api-v3/repos/acme/gitops/pulls":
		if err := json.NewDecoder(r.Body).Decode(&g.created); err != nil {
			g.t.Error(err)
		}
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]any{"number": 12, "state": "open", "title": g.created["title"], "body": g.created["body"],
			"html_url": "https://github.example/acme/gitops/pull/12", "user": map[string]any{"login": "operator"},
			"head": map[string]any{"ref": g.created["head"], "sha": strings.Repeat("a", 40), "label": "acme:" + fmt.Sprint(g.created["head"])},
			"base": map[string]any{"ref": g.created["base"]}})
	case "POST /api-v3/repos/acme/gitops/issues/12/labels":
		io.WriteString(w, `[{"name":"conveyor"},{"name":"rollback"}]`)
	case "POST /api-v3/repos/acme/gitops/pulls/12/requested_reviewers":
		io.WriteString(w, `{"number":12}`)
	default:
		g.t.Errorf("unexpected GitHub call %s", key)
		http.Error(w, `{"message":"Not Found"}`, http.StatusNotFound)
	}
}

// TestRollbackOnStack: `conveyor rollback --stack NAME` (the command PR
// bodies print) proposes the previous digest on a stack: the release
// records in DynamoDB, the branch pushed to the GitOps repository over
// smart HTTP, the pull request opened on GitHub with the operator's token,
// its body naming the stack in the rollback command back.
func TestRollbackOnStack(t *testing.T) {
	_, url := cliGitOps(t)
	flags, store := awsBackend(t, url)
	ctx := context.Background()
	at := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	p5 := state.Release{ID: promote.ReleaseID("web", "prod", cliDigest(5)), App: "web", Env: "prod", Image: cliImage, Digest: cliDigest(5),
		SourceRepo: "/src/web", SourceCommit: fmt.Sprintf("%040d", 5), State: state.Merged, PR: 1, MergedAt: at}
	if err := store.PutRelease(ctx, &p5); err != nil {
		t.Fatal(err)
	}
	gh := &fakeGitHub{t: t, token: "operator-token"}
	srv := httptest.NewServer(gh)
	t.Cleanup(srv.Close)
	t.Setenv("CONVEYOR_GITHUB_TOKEN", gh.token)
	t.Setenv("CONVEYOR_GITHUB_API_URL", srv.URL+"/api-v3/")
	t.Setenv("CONVEYOR_GITHUB_REPOSITORY", "acme/gitops")

	out := cli(t, append([]string{"rollback", "web", "prod"}, flags...)...)
	if !strings.HasPrefix(out, "opened #12 ") || !strings.Contains(out, cliDigest(7)+" → "+cliDigest(5)) {
		t.Fatalf("rollback printed %q; want PR #12 moving prod from digest 7 back to 5", out)
	}
	body, _ := gh.created["body"].(string)
	if want := "`conveyor rollback --stack conveyor-test web prod --to " + cliDigest(7) + "`"; !strings.Contains(body, want) {
		t.Errorf("PR body lacks %s:\n%s", want, body)
	}
	branch := promote.Branch("web", "prod")
	if refs, err := exec.Command("git", "ls-remote", url, "refs/heads/"+branch).Output(); err != nil || len(refs) == 0 {
		t.Errorf("git ls-remote %s %s = %q, %v; want the pushed branch", url, branch, refs, err)
	}
	rels, err := store.ListReleases(ctx, state.ReleaseFilter{App: "web", Env: "prod", State: state.Proposed})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rels {
		got = append(got, fmt.Sprintf("%s #%d rollback=%v", r.Digest, r.PR, r.Rollback))
	}
	if !slices.Contains(got, cliDigest(5)+" #12 rollback=true") {
		t.Errorf("proposed prod releases %v; want digest 5 in #12 recorded as a rollback", got)
	}
}
