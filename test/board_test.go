package test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/conveyor-gitops/conveyor/shared/board"
	"github.com/conveyor-gitops/conveyor/shared/demo"
	"github.com/conveyor-gitops/conveyor/shared/local"
	"github.com/conveyor-gitops/conveyor/shared/state"
)

// hostileSubject is a commit message a pusher controls, written to run
// script if the board ever rendered it as markup.
const hostileSubject = `<script>window.pwned = "script"</script> "><img src=x onerror="window.pwned = 'img'"> ship it`

// TestBoardInARealBrowser runs the demo pipeline through `conveyor dev`,
// opens its board in headless Chromium (Debian's, pinned by make tools) and
// checks what a person sees: the dev cell's digest is the record's, the
// hostile commit message is text and ran nothing, prod shows its approval
// policy and waits, Tab reaches prod's PR link, the policy header is there,
// and approving the PR with `conveyor pr approve` updates the prod cell
// without a reload.
func TestBoardInARealBrowser(t *testing.T) {
	chromium := tool(t, "chromium")
	started := time.Now()
	ctx := context.Background()
	dir := t.TempDir()
	registry := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	app, err := demo.InitRepo(filepath.Join(dir, "web"))
	if err != nil {
		t.Fatal(err)
	}
	files := demo.AppFiles()
	c, err := app.Commit(files, hostileSubject+"\n\nA body.", time.Now().Add(-time.Hour).UTC().Truncate(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	g, err := demo.InitRepo(filepath.Join(dir, "gitops"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Commit(demo.GitOpsFiles(app.Dir, registry+"/demo/web"), "pipeline", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	if err := g.AcceptPushes(); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	_, base := startDev(t, data, g.Dir, registry, "")
	postSigned(t, base, "board-1", demo.PushWebhook("demo/web", app.Dir, "main", "", c, nil))

	rt, err := local.Open(ctx, local.Options{DataDir: data, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	release := func(env string) (state.Release, bool) {
		rels, err := rt.State.ListReleases(ctx, state.ReleaseFilter{App: "web", Env: env})
		if err != nil || len(rels) == 0 {
			return state.Release{}, false
		}
		return rels[len(rels)-1], true
	}
	waitFor(t, "the prod promotion to wait for approval", 90*time.Second, func() bool {
		r, ok := release("prod")
		return ok && r.State == state.Proposed && r.PR > 0
	})
	dev, _ := release("dev")
	prod, _ := release("prod")

	// The policy header, as the browser receives it with the page.
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Content-Security-Policy"); got != board.ContentSecurityPolicy {
		t.Fatalf("the board's Content-Security-Policy is %q", got)
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1280, 900), chromedp.Env("TZ=Asia/Tokyo"))
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	bctx, cancelTimeout := context.WithTimeout(bctx, 2*time.Minute)
	defer cancelTimeout()

	doc, err := chromedp.Run(bctx, chromedp.NavigateResponse(base+"/"))
	if err != nil {
		t.Fatalf("opening the board: %v", err)
	}
	if doc.Headers["Content-Security-Policy"] != board.ContentSecurityPolicy || doc.Headers["X-Content-Type-Options"] != "nosniff" {
		t.Errorf("the browser got the page with headers %v", doc.Headers)
	}
	if err := chromedp.Do(bctx, chromedp.WaitVisible("#cell-web-prod"), chromedp.Evaluate[chromedp.Void](`window.marker = "same page"`)); err != nil {
		t.Fatal(err)
	}
	devDigest := run(t, bctx, chromedp.AttributeValue("#cell-web-dev", "data-digest")).Value
	msg := run(t, bctx, chromedp.Text("#cell-web-dev .msg"))
	prodText := run(t, bctx, chromedp.Text("#cell-web-prod"))
	releasedAt := run(t, bctx, chromedp.Text("#cell-web-dev time"))
	imgs := run(t, bctx, chromedp.Evaluate[int](`document.querySelectorAll("main img").length`))
	if devDigest != dev.Digest || dev.Digest == "" {
		t.Errorf("the dev cell shows digest %q, the record says %q", devDigest, dev.Digest)
	}
	if msg != hostileSubject {
		t.Errorf("the dev cell shows the commit message %q, want it as text: %q", msg, hostileSubject)
	}
	if pwned := run(t, bctx, chromedp.Evaluate[string](`String(window.pwned)`)); pwned != "undefined" || imgs != 0 {
		t.Errorf("the hostile commit message ran (window.pwned = %s, %d img elements)", pwned, imgs)
	}
	for _, want := range []string{"manual: 0 of 1 approval from [alice]", "waiting for approval", "PR #" + strconv.Itoa(prod.PR)} {
		if !strings.Contains(prodText, want) {
			t.Errorf("the prod cell says %q, want %q in it", prodText, want)
		}
	}
	if strings.Contains(releasedAt, "UTC") {
		t.Errorf("the release time %q is not in the viewer's time zone", releasedAt)
	}

	// Keyboard only: Tab from the top of the page reaches prod's PR link.
	reached := false
	for i := 0; i < 40 && !reached; i++ {
		if err := chromedp.Do(bctx, chromedp.KeyEvent(kb.Tab)); err != nil {
			t.Fatal(err)
		}
		reached = run(t, bctx, chromedp.Evaluate[bool](`(() => { const a = document.activeElement; return !!a && a.classList.contains("pr-link") && !!a.closest("#cell-web-prod") })()`))
	}
	if !reached {
		t.Error("Tab never reached the prod cell's pull request link")
	}
	saveScreenshot(t, bctx, "board-waiting.png")

	out, err := exec.Command(conveyorBin(t), "pr", "approve", strconv.Itoa(prod.PR), "--as", "alice", "--data-dir", data).CombinedOutput()
	if err != nil {
		t.Fatalf("conveyor pr approve: %v\n%s", err, out)
	}
	waitFor(t, "prod's release to be merged", 60*time.Second, func() bool {
		r, ok := release("prod")
		return ok && r.State == state.Merged
	})
	merged := time.Now()
	// A page rendered while the merge was being recorded shows git's new
	// digest beside the records' old state; the one to wait for shows
	// the recorded release.
	var shown, after string
	released := func() bool {
		return shown == prod.Digest && strings.Contains(after, "approved by alice") && !strings.Contains(after, "waiting for approval")
	}
	for {
		shown = run(t, bctx, chromedp.AttributeValue("#cell-web-prod", "data-digest")).Value
		after = run(t, bctx, chromedp.Text("#cell-web-prod"))
		if released() || time.Since(merged) > 10*time.Second {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	took := time.Since(merged)
	if !released() {
		t.Fatalf("10 s after the merge the prod cell shows digest %q and says %q, want %q approved by alice", shown, after, prod.Digest)
	}
	if took > 2*time.Second {
		t.Errorf("the prod cell changed %s after the merge was recorded, want within 2 s", took)
	}
	marker := run(t, bctx, chromedp.Evaluate[string](`String(window.marker)`))
	if marker != "same page" {
		t.Errorf("the page reloaded to show the merge (marker %q)", marker)
	}
	saveScreenshot(t, bctx, "board-released.png")

	if err := chromedp.Do(bctx, chromedp.Navigate(base+"/apps/web"), chromedp.WaitVisible("#dora"), chromedp.Navigate(base+"/ops")); err != nil {
		t.Fatal(err)
	}
	opsText := run(t, bctx, chromedp.Text("#queues"))
	if !strings.Contains(opsText, "promotions (FIFO)") {
		t.Errorf("the operations page's queue table says %q", opsText)
	}
	t.Logf("browser test took %s", time.Since(started).Round(time.Millisecond))
}

// run runs one browser action and returns its value, failing the test on
// an error.
func run[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// saveScreenshot writes a screenshot of the page to the test's artifact
// directory (go test -artifacts keeps it).
func saveScreenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Errorf("screenshot: %v", err)
		return
	}
	p := filepath.Join(t.ArtifactDir(), name)
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Error(err)
		return
	}
	t.Logf("screenshot: %s", p)
}

// testBoardLambda invokes functions/board as a function URL would, over
// the emulated table and queues and the GitOps repository: the same pages,
// with the same headers, polling instead of streaming, read-only, and no
// secret or token in any of them.
func testBoardLambda(t *testing.T, fn *lambdaProcess, ghToken string) {
	get := func(method, path string) events.APIGatewayV2HTTPResponse {
		var resp events.APIGatewayV2HTTPResponse
		fn.invoke(t, events.APIGatewayV2HTTPRequest{RawPath: path, RequestContext: events.APIGatewayV2HTTPRequestContext{
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: path}}}, &resp)
		return resp
	}
	for _, tc := range []struct {
		path string
		want []string
	}{
		{"/", []string{`id="cell-web-dev"`, `id="cell-web-prod"`, `data-live="poll" data-poll-ms="1000"`, "manual: 1 approval from [alice]"}},
		{"/apps/web", []string{"DORA metrics", "<svg"}},
		// Listed from their records in the table: the promotion of the
		// wrong kind, the builds body that is no envelope, the two
		// images; the builds dead letter replayed before is forgotten.
		{"/ops", []string{`id="queue-builds"`, `id="dead-promotions"`, "wrong envelope kind", `id="dead-builds"`,
			"Body (not a Conveyor envelope)", "not json", `id="dead-images"`}},
		{"/version", []string{`"version":"`}},
	} {
		resp := get(http.MethodGet, tc.path)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d\n%s", tc.path, resp.StatusCode, resp.Body)
			continue
		}
		if got := resp.Headers["content-security-policy"]; got != board.ContentSecurityPolicy {
			t.Errorf("GET %s: Content-Security-Policy %q", tc.path, got)
		}
		for _, w := range tc.want {
			if !strings.Contains(resp.Body, w) {
				t.Errorf("GET %s lacks %q:\n%s", tc.path, w, resp.Body)
			}
		}
		if n := strings.Count(resp.Body, `<details class="dead"`); tc.path == "/ops" && n != 4 {
			t.Errorf("GET /ops lists %d dead letters, want 4:\n%s", n, resp.Body)
		}
		for _, secret := range []string{lambdaSecret, lambdaToken, ghToken} {
			if strings.Contains(resp.Body, secret) {
				t.Errorf("GET %s shows a secret or token", tc.path)
			}
		}
	}
	if resp := get(http.MethodGet, "/events"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /events on Lambda: %d, want 404 (pages poll: API Gateway and function URLs buffer responses)", resp.StatusCode)
	}
	if resp := get(http.MethodPost, "/"); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d, want 405", resp.StatusCode)
	}
}

// boardShowsCommit checks that the board function's grid shows the source
// commit's subject and its author as git has them: the function has no
// clone, so they come from the build's record.
func (s *lambdaStack) boardShowsCommit(sha, subject string) {
	s.t.Helper()
	author, err := gitCLI(s.gh.repoDir(stackSource), nil, "log", "-1", "--format=%an", sha)
	if err != nil {
		s.t.Fatal(err)
	}
	var resp events.APIGatewayV2HTTPResponse
	s.fns["board"].invoke(s.t, events.APIGatewayV2HTTPRequest{RawPath: "/", RequestContext: events.APIGatewayV2HTTPRequestContext{
		HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: http.MethodGet, Path: "/"}}}, &resp)
	for _, w := range []string{`<span class="msg">` + subject + `</span>`, `<span class="author">by ` + strings.TrimSpace(author) + `</span>`} {
		if resp.StatusCode != http.StatusOK || strings.Count(resp.Body, w) != 3 {
			s.t.Errorf("the board's grid (%d) shows %q %d times, want once per environment:\n%s", resp.StatusCode, w, strings.Count(resp.Body, w), resp.Body)
		}
	}
}
