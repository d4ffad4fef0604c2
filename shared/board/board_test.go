package board_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/conveyor-gitops/conveyor/shared/board"
	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/demo"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/history"
	"github.com/conveyor-gitops/conveyor/shared/local"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/replay"
	"github.com/conveyor-gitops/conveyor/shared/state"
)

const pipeline = `version: 1
apps:
  - name: web
    source: {repo: acme/web, branch: main}
    image: registry.example/acme/web
    environments:
      - {name: dev, path: envs/dev, strategy: kustomize, release: auto}
      - {name: staging, path: envs/staging, strategy: kustomize, release: auto}
      - name: prod
        path: envs/prod
        strategy: kustomize
        release: manual
        reviewers: [alice, acme/sre]
        freeze:
          - {cron: "* * * * *", duration: 2h}
  - name: api
    source: {repo: acme/api, branch: main}
    image: registry.example/acme/api
    environments:
      - {name: dev, path: api/dev, strategy: kustomize, release: auto}
      - {name: prod, path: api/prod, strategy: kustomize, release: auto}
`

// Attacker-controlled strings: a commit message, an author, a PR URL and a
// merger's name as a forge or a pusher may send them.
const (
	hostileMessage = `<script>alert("msg")</script> fix "><img src=x onerror=alert(1)>`
	// git drops < and > from an author's name; the rest must stay text.
	hostileAuthor = `"><img src=x onerror=alert(2)>`
	hostilePRURL  = `javascript:alert(3)`
	hostileMerger = `<script>alert(4)</script>`
	hostileReason = `<script>alert(5)</script> refused`
	// Secrets as the environment of `conveyor dev` holds them; the token
	// also sits in a dead letter's clone URL, as a misconfigured sender
	// could put it there.
	webhookSecret = "whsec-It-is-a-secret-to-everybody"
	gitToken      = "ghs_0123456789abcdefSECRETtoken"
)

var (
	digestOld = "sha256:" + strings.Repeat("1", 64)
	digestNew = "sha256:" + strings.Repeat("2", 64)
)

type fixture struct {
	rt     *local.Runtime
	srv    *httptest.Server
	commit string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	t.Setenv("CONVEYOR_GITHUB_WEBHOOK_SECRET", webhookSecret)
	t.Setenv("CONVEYOR_GIT_TOKEN", gitToken)
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	rt, err := local.Open(ctx, local.Options{DataDir: filepath.Join(t.TempDir(), "data"), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	cfg, err := config.Parse("conveyor.yaml", []byte(pipeline))
	if err != nil {
		t.Fatal(err)
	}
	src, err := demo.InitRepo(filepath.Join(t.TempDir(), "web"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Commit(map[string]string{"a": "1"}, "first", time.Now().Add(-2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	f := &fixture{rt: rt, commit: commitAs(t, src.Dir, hostileAuthor, hostileMessage)}
	now := time.Now().UTC()
	for _, r := range []state.Release{
		{ID: "web/dev/" + digestOld, App: "web", Env: "dev", Digest: digestOld, Tag: "sha-1111", SourceRepo: src.Dir, SourceCommit: f.commit,
			SourceTime: now.Add(-time.Hour), State: state.Merged, PR: 5, MergedBy: hostileMerger, MergedAt: now.Add(-30 * time.Minute), CreatedAt: now.Add(-40 * time.Minute)},
		{ID: "web/prod/" + digestOld, App: "web", Env: "prod", Digest: digestOld, SourceRepo: src.Dir, SourceCommit: f.commit,
			SourceTime: now.Add(-time.Hour), State: state.Proposed, PR: 7, PRURL: hostilePRURL, Branch: "conveyor/prod/web", CreatedAt: now.Add(-10 * time.Minute)},
	} {
		if err := rt.State.PutRelease(ctx, &r); err != nil {
			t.Fatal(err)
		}
	}
	deadLetter(t, rt, hostileReason)
	b, err := board.New(board.Sources{
		Config:   func(context.Context) (*config.Config, error) { return cfg, nil },
		Releases: rt.State, Queues: rt, Dead: replay.NewEmbedded(rt.Queues), Commits: history.Local{},
	}, board.WithPollInterval(20*time.Millisecond), board.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(b)
	t.Cleanup(f.srv.Close)
	return f
}

// commitAs commits an empty change in dir by author with message.
func commitAs(t *testing.T, dir, author, message string) string {
	t.Helper()
	r, err := git.PlainOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	wt, err := r.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	h, err := wt.Commit(message, &git.CommitOptions{AllowEmptyCommits: true,
		Author: &object.Signature{Name: author, Email: "mallory@example.com", When: time.Now().Add(-time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

// deadLetter dead-letters a push whose clone URL carries the git token.
func deadLetter(t *testing.T, rt *local.Runtime, reason string) {
	t.Helper()
	ctx := context.Background()
	q, _ := rt.Queues.Queue(queue.Builds)
	env, err := event.New(event.KindPush, "github", "delivery-1", "", event.Push{Repository: "acme/web",
		CloneURL: "https://x-access-token:" + gitToken + "@github.com/acme/web.git", Ref: "refs/heads/main", After: strings.Repeat("a", 40)}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := queue.SendEnvelope(ctx, q, env, "", "", "web"); err != nil {
		t.Fatal(err)
	}
	msgs, err := q.Receive(ctx, 1, time.Minute)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("receiving the push: %v %v", msgs, err)
	}
	if err := q.DeadLetter(ctx, msgs[0].ReceiptHandle, reason); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

var pages = []string{"/", "/apps/web", "/apps/api", "/prs/7", "/prs/5", "/ops"}

func TestPagesShowThePipeline(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		path string
		want []string
	}{
		{"/", []string{
			`id="cell-web-dev" class="cell" data-env="dev" data-digest="` + digestOld + `"`,
			"sha256:111111111111", "sha-1111", "manual: 0 of 1 approval from [alice, acme/sre]", "waiting for approval",
			"auto", "Frozen until <time datetime=", `href="/prs/7"`, "by &#34;img src=x onerror=alert(2)", "never released",
			`<th scope="col">dev</th><th scope="col">staging</th><th scope="col">prod</th>`,
			"Drift is not checked",
		}},
		{"/apps/web", []string{"DORA metrics", "Production deployments per week", "<svg", "manual: 1 approval from [alice, acme/sre]", f.commit[:7]}},
		{"/prs/7", []string{"Pull request #7", "conveyor/prod/web", "proposed"}},
		{"/ops", []string{`id="queue-builds"`, "1 in builds-dlq", "1</strong> ×", "delivery-1", "https://github.com/acme/web.git"}},
	} {
		t.Run(tc.path, func(t *testing.T) {
			resp, body := get(t, f.srv.URL+tc.path)
			if resp.StatusCode != 200 {
				t.Fatalf("GET %s: %d\n%s", tc.path, resp.StatusCode, body)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("GET %s lacks %q\n%s", tc.path, w, body)
				}
			}
		})
	}
}

// TestHostileStringsAreInert renders commit messages, authors, a PR URL, a
// merger and a dead letter's reason carrying markup and a javascript: URL,
// and checks each comes out as text.
func TestHostileStringsAreInert(t *testing.T) {
	f := newFixture(t)
	for _, path := range pages {
		_, body := get(t, f.srv.URL+path)
		for _, bad := range []string{"<script>alert", "<img src=x", `href="javascript:`, "onerror=alert(1)>"} {
			if strings.Contains(body, bad) {
				t.Errorf("GET %s contains %q unescaped", path, bad)
			}
		}
		if n := strings.Count(body, "<script"); n > 1 {
			t.Errorf("GET %s has %d script elements, want only the board's own", path, n)
		}
	}
	_, grid := get(t, f.srv.URL+"/")
	for _, want := range []string{"&lt;script&gt;alert(&#34;msg&#34;)&lt;/script&gt; fix", "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;", `href="#ZgotmplZ"`, "&lt;script&gt;alert(4)&lt;/script&gt;"} {
		if !strings.Contains(grid, want) {
			t.Errorf("the grid does not show %q as text", want)
		}
	}
	_, ops := get(t, f.srv.URL+"/ops")
	if !strings.Contains(ops, "&lt;script&gt;alert(5)&lt;/script&gt; refused") {
		t.Error("the ops page does not show the dead letter's reason as text")
	}
}

// TestHeadersAndSecrets checks every response carries the strict policy,
// no page ever shows the webhook secret or the git token, and the board
// refuses every method that could change something.
func TestHeadersAndSecrets(t *testing.T) {
	f := newFixture(t)
	for _, path := range append(pages, "/static/board.js", "/static/board.css", "/version", "/nowhere") {
		resp, body := get(t, f.srv.URL+path)
		if got := resp.Header.Get("Content-Security-Policy"); got != board.ContentSecurityPolicy {
			t.Errorf("GET %s: Content-Security-Policy %q", path, got)
		}
		if !strings.Contains(board.ContentSecurityPolicy, "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'") {
			t.Error("the policy is not the strict one")
		}
		if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("GET %s: X-Content-Type-Options %q", path, got)
		}
		for _, secret := range []string{webhookSecret, gitToken} {
			if strings.Contains(body, secret) {
				t.Errorf("GET %s shows a secret", path)
			}
		}
	}
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		req, _ := http.NewRequest(m, f.srv.URL+"/ops", strings.NewReader("{}"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s /ops: %d, want 405", m, resp.StatusCode)
		}
	}
}

// TestEventsAnnounceAChange listens to /events, changes a record, and
// expects a new version within a second; the page rendered after it
// carries that version and shows the change.
func TestEventsAnnounceAChange(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// More records written after the one that changes than the version
	// reads: the change must still be seen.
	for i := range 40 {
		r := state.Release{ID: fmt.Sprintf("old/dev/%02d", i), App: "old", Env: "dev", Digest: "sha256:" + strings.Repeat("e", 64), State: state.Superseded}
		if err := f.rt.State.PutRelease(ctx, &r); err != nil {
			t.Fatal(err)
		}
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.srv.URL+"/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("/events Content-Type %q", ct)
	}
	versions := make(chan string, 8)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				versions <- v
			}
		}
	}()
	first := <-versions
	page, _ := get(t, f.srv.URL+"/")
	if got := page.Header.Get(board.HeaderVersion); got != first {
		t.Fatalf("the page's version %q, the stream's %q", got, first)
	}

	rels, err := f.rt.State.ListReleases(ctx, state.ReleaseFilter{App: "web", Env: "prod"})
	if err != nil || len(rels) != 1 {
		t.Fatalf("prod releases %v %v", rels, err)
	}
	r := rels[0]
	r.State, r.MergedBy, r.MergedAt, r.ApprovedBy = state.Merged, "alice", time.Now(), []string{"alice"}
	changed := time.Now()
	if err := f.rt.State.PutRelease(ctx, &r); err != nil {
		t.Fatal(err)
	}
	select {
	case v := <-versions:
		if v == first {
			t.Fatalf("the stream repeated version %s", v)
		}
		if took := time.Since(changed); took > time.Second {
			t.Errorf("the change was announced after %s, want within a second", took)
		}
		req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/", nil)
		req.Header.Set(board.HeaderFragment, "1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(body), "<html") || !strings.Contains(string(body), "approved by alice") {
			t.Errorf("the fragment after the change is not the updated main content:\n%s", body)
		}
		if got := resp.Header.Get(board.HeaderVersion); got != v {
			t.Errorf("the fragment's version %q, announced %q", got, v)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("no new version within 3 s of a change")
	}
}

func TestPolicy(t *testing.T) {
	for _, tc := range []struct {
		env  config.Environment
		want string
	}{
		{config.Environment{Release: config.ReleaseAuto}, "auto"},
		{config.Environment{Release: config.ReleaseManual, Reviewers: []string{"alice"}, Approvals: 1}, "manual: 1 approval from [alice]"},
		{config.Environment{Release: config.ReleaseManual, Reviewers: []string{"alice", "bob", "acme/sre"}, Approvals: 2}, "manual: 2 approvals from [alice, bob, acme/sre]"},
	} {
		if got := board.Policy(&tc.env); got != tc.want {
			t.Errorf("Policy(%+v) = %q, want %q", tc.env, got, tc.want)
		}
	}
}

// TestPollingServesNoStream: behind a host that buffers responses (Lambda)
// pages poll /version instead of opening /events.
func TestPollingServesNoStream(t *testing.T) {
	f := newFixture(t)
	b, err := board.New(board.Sources{
		Config:   func(context.Context) (*config.Config, error) { return config.Parse("conveyor.yaml", []byte(pipeline)) },
		Releases: f.rt.State,
	}, board.WithPolling(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b)
	defer srv.Close()
	if resp, _ := get(t, srv.URL+"/events"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /events while polling: %d, want 404", resp.StatusCode)
	}
	_, page := get(t, srv.URL+"/")
	if !strings.Contains(page, `data-live="poll" data-poll-ms="3000"`) {
		t.Error("the page does not tell its script to poll every 3 s")
	}
	_, events := get(t, f.srv.URL+"/")
	if !strings.Contains(events, `data-live="events"`) {
		t.Error("a streaming board's page does not listen to /events")
	}
}

// TestProgress: a waiting manual environment says how far its open
// promotion has come.
func TestProgress(t *testing.T) {
	prod := config.Environment{Release: config.ReleaseManual, Reviewers: []string{"alice", "acme/sre"}, Approvals: 2}
	for _, tc := range []struct {
		env  config.Environment
		by   []string
		want string
	}{
		{prod, nil, "manual: 0 of 2 approvals from [alice, acme/sre]"},
		{prod, []string{"alice"}, "manual: 1 of 2 approvals from [alice, acme/sre] (so far: alice)"},
		{config.Environment{Release: config.ReleaseManual, Reviewers: []string{"alice"}}, nil, "manual: 0 of 1 approval from [alice]"},
	} {
		if got := board.Progress(&tc.env, tc.by); got != tc.want {
			t.Errorf("Progress(%v) = %q, want %q", tc.by, got, tc.want)
		}
	}
}

// stats are fixed queue counters, as SQS's attributes give them.
type stats map[string]queue.Stats

func (s stats) QueueStats(context.Context) (map[string]queue.Stats, error) { return s, nil }

// TestOpsListsRecordedDeadLetters: on AWS the board lists dead letters
// from their records (replay.Recorded), with envelope and reason, says how
// many the queue counts beyond them, and shows a cut body as cut.
func TestOpsListsRecordedDeadLetters(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	env, err := event.New(event.KindPromotion, "conveyor", "", "trace-9", event.Promotion{App: "web", Environment: "prod", Digest: digestOld}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := env.Encode()
	dead := time.Now().Add(-time.Minute)
	for _, d := range []state.DeadLetter{
		{Queue: queue.Promotions, ID: "m-1", Body: body, BodySize: len(body), Reason: "wrong envelope <b>kind</b>", ReceiveCount: 1, DeadAt: dead},
		{Queue: queue.Builds, ID: "m-2", Body: []byte(`{"cut":`), BodySize: 300 << 10, Reason: "too big", ReceiveCount: 1, DeadAt: dead},
	} {
		if err := f.rt.State.PutDeadLetter(ctx, d, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	b, err := board.New(board.Sources{
		Config:   func(context.Context) (*config.Config, error) { return config.Parse("conveyor.yaml", []byte(pipeline)) },
		Releases: f.rt.State, Queues: stats{queue.Promotions: {Dead: 1}, queue.Builds: {Dead: 3}}, Dead: replay.NewRecorded(f.rt.State),
	}, board.WithPolling(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b)
	defer srv.Close()
	_, page := get(t, srv.URL+"/ops")
	for _, w := range []string{
		`id="dead-letter-m-1"`, "wrong envelope &lt;b&gt;kind&lt;/b&gt;", "trace-9", "&#34;environment&#34;: &#34;prod&#34;",
		`id="dead-letter-m-2"`, "cut: 7 of its 307200 bytes were recorded",
		"3 in builds-dlq, 2 not listed below", `id="unlisted-builds"`,
	} {
		if !strings.Contains(page, w) {
			t.Errorf("/ops lacks %q\n%s", w, page)
		}
	}
	for _, unwanted := range []string{"Dead letters are counted above", `id="unlisted-promotions"`} {
		if strings.Contains(page, unwanted) {
			t.Errorf("/ops shows %q", unwanted)
		}
	}
}

// builds stands in for the build records.
type builds struct {
	BuiltCommitFn func(app, sha string) (history.Commit, error)
}

func (b builds) BuiltCommit(_ context.Context, app, sha string) (history.Commit, error) {
	return b.BuiltCommitFn(app, sha)
}

// TestCommitFromBuildRecord: without a Commits port (on AWS) a cell takes
// the commit's author and subject from the build's record, escaped.
func TestCommitFromBuildRecord(t *testing.T) {
	f := newFixture(t)
	var asked []string
	b, err := board.New(board.Sources{
		Config:   func(context.Context) (*config.Config, error) { return config.Parse("conveyor.yaml", []byte(pipeline)) },
		Releases: f.rt.State,
		Builds: builds{BuiltCommitFn: func(app, sha string) (history.Commit, error) {
			asked = append(asked, app+"@"+sha)
			return history.Commit{ID: sha, Author: "Mallory <img src=x>", Message: "ship it <script>alert(9)</script>\n\nbody"}, nil
		}},
	}, board.WithPolling(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b)
	defer srv.Close()
	_, page := get(t, srv.URL+"/")
	for _, w := range []string{`<span class="msg">ship it &lt;script&gt;alert(9)&lt;/script&gt;</span>`, "by Mallory &lt;img src=x&gt;"} {
		if !strings.Contains(page, w) {
			t.Errorf("the grid lacks %q\n%s", w, page)
		}
	}
	if strings.Contains(page, "<script>alert(9)") || strings.Contains(page, "\n\nbody") {
		t.Error("the grid shows the message unescaped or beyond its subject")
	}
	if len(asked) == 0 || asked[0] != "web@"+f.commit {
		t.Errorf("asked the build records for %v, want web@%s", asked, f.commit)
	}
}
