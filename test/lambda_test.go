package test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/conveyor-gitops/conveyor/shared/awsenv"
	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/promote"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/queue/sqsqueue"
	"github.com/conveyor-gitops/conveyor/shared/replay"
	"github.com/conveyor-gitops/conveyor/shared/state"
	"github.com/conveyor-gitops/conveyor/shared/state/dynamostate"
	"github.com/conveyor-gitops/conveyor/shared/webhook"
	"github.com/conveyor-gitops/conveyor/test/emulator"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// The functions under functions/, in pipeline order.
var lambdaFunctions = []string{"webhook", "build", "registry", "promote", "approval", "notify", "replay", "reconcile", "board"}

const (
	lambdaSecret = "It's a Secret to Everybody"
	lambdaToken  = "registry-token-0123456789"
	lambdaTable  = "conveyor-lambda"
)

// TestLambdaFunctions runs every function's bootstrap, built for this
// machine as for Lambda, under the AWS Lambda Runtime Interface Emulator,
// against fauxqs (SQS) and dynalite (DynamoDB), and invokes it with the
// samples in events/ as Lambda would deliver them.
func TestLambdaFunctions(t *testing.T) {
	rie := tool(t, "aws-lambda-rie")
	ctx := context.Background()

	// Build while the emulators start.
	built := make(chan error, 1)
	go func() { _, err := lambdaBootstraps(); built <- err }()
	var sqsSrv, dynSrv *emulator.Server
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); sqsSrv = emulator.StartSQS(t) }()
	go func() { defer wg.Done(); dynSrv = emulator.StartDynamo(t) }()
	wg.Wait()
	if sqsSrv == nil || dynSrv == nil {
		t.FailNow()
	}
	// One endpoint for every service, as LocalStack offers: the functions
	// get CONVEYOR_AWS_ENDPOINT, and this proxy routes by X-Amz-Target.
	endpoint := awsProxy(t, sqsSrv.Endpoint, dynSrv.Endpoint)
	sqsc := sqsSrv.SQS()
	st, err := dynamostate.New(dynSrv.DynamoDB(), lambdaTable)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateTable(ctx); err != nil {
		t.Fatal(err)
	}
	urls := map[string]sqsqueue.URLs{}
	for _, spec := range queue.Topology {
		if urls[spec.Name], err = sqsqueue.CreateQueues(ctx, sqsc, spec); err != nil {
			t.Fatal(err)
		}
	}

	// The image registry and the GitOps repository with conveyor.yaml.
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(reg.Close)
	regHost := strings.TrimPrefix(reg.URL, "http://")
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	tagged, _ := name.ParseReference(regHost + "/acme/web:sha-0d1a26e67d8f")
	if err := remote.Write(tagged, img); err != nil {
		t.Fatal(err)
	}
	digest, _ := img.Digest()
	gitopsDir := gitopsRepo(t, regHost)
	// The forge is only asked to confirm the review events: pull requests
	// 42 and 43 merged, as the envelopes say.
	gh := newGitHubServer(t, []byte(lambdaSecret))
	for _, n := range []int{42, 43} {
		merged := time.Date(2026, 11, 29, 0, 20, 0, 0, time.UTC)
		gh.seedPull("acme/gitops", ghPull{Number: n, Title: "Promote web to staging", Head: "conveyor/staging/web", Base: "main",
			User: "conveyor-bot", Labels: []string{"conveyor"}, State: "closed", Merged: true, MergedBy: "alice",
			MergeCommit: "9a8b7c6d5e4f30211a2b3c4d5e6f708192a3b4c5", HeadSHA: "5b4e3d2c1b0a99887766554433221100ffeeddcc",
			CreatedAt: merged.Add(-time.Hour), UpdatedAt: merged, ClosedAt: merged, MergedAt: merged})
	}
	ghToken := gh.user("conveyor-bot")

	if err := <-built; err != nil {
		t.Fatal(err)
	}
	bins, _ := lambdaBootstraps()
	env := []string{
		"AWS_REGION=" + emulator.Region, "AWS_ACCESS_KEY_ID=conveyor", "AWS_SECRET_ACCESS_KEY=conveyor",
		"AWS_EC2_METADATA_DISABLED=true", "HOME=" + t.TempDir(), "AWS_LAMBDA_LOG_LEVEL=DEBUG",
		"CONVEYOR_AWS_ENDPOINT=" + endpoint, "CONVEYOR_TABLE=" + lambdaTable,
		"CONVEYOR_GITHUB_WEBHOOK_SECRET=" + lambdaSecret, "CONVEYOR_REGISTRY_WEBHOOK_TOKEN=" + lambdaToken,
		"CONVEYOR_GITOPS_REPO=" + gitopsDir, "CONVEYOR_GITHUB_TOKEN=" + ghToken, "CONVEYOR_GITHUB_API_URL=" + gh.URL + "/api-v3/",
		"SSL_CERT_FILE=" + gh.CAFile,
		"CONVEYOR_GITHUB_REPOSITORY=acme/gitops",
	}
	for name, u := range urls {
		env = append(env, awsenv.QueueVar(name, false)+"="+u.Queue, awsenv.QueueVar(name, true)+"="+u.DeadLetter)
	}
	fns := map[string]*lambdaProcess{}
	var mu sync.Mutex
	for _, fn := range lambdaFunctions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := startLambda(t, rie, filepath.Join(bins, fn), env)
			mu.Lock()
			fns[fn] = p
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(fns) != len(lambdaFunctions) {
		t.FailNow()
	}
	q := &sqsHelper{t: t, c: sqsc, urls: urls}

	t.Run("webhook", func(t *testing.T) {
		gp := func(kind, delivery, file string, sig string, b64 bool) events.APIGatewayV2HTTPRequest {
			body := sample(t, file)
			if sig == "" {
				sig = webhook.SignatureHeader([]byte(lambdaSecret), body)
			}
			return apiEvent(webhook.PathGitHub, body, b64, map[string]string{"x-github-event": kind,
				"x-github-delivery": delivery, "x-hub-signature-256": sig, "content-type": "application/json"})
		}
		regEv := func(path, file, auth string) events.APIGatewayV2HTTPRequest {
			return apiEvent(path, sample(t, file), false, map[string]string{"authorization": auth,
				"content-type": "application/vnd.docker.distribution.events.v2+json"})
		}
		for _, tc := range []struct {
			name   string
			ev     events.APIGatewayV2HTTPRequest
			code   int
			status string
		}{
			{"push", gp("push", "l-1", "github-push.json", "", false), 202, "accepted"},
			{"push redelivered", gp("push", "l-1", "github-push.json", "", false), 200, "duplicate"},
			{"branch deleted, base64 body", gp("push", "l-2", "github-push-branch-deleted.json", "", true), 202, "accepted"},
			{"PR merged", gp("pull_request", "l-3", "github-pull_request-merged.json", "", false), 202, "accepted"},
			{"review", gp("pull_request_review", "l-4", "github-pull_request_review-approved.json", "", false), 202, "accepted"},
			{"GHCR package", gp("registry_package", "l-5", "github-registry_package-published.json", "", false), 202, "accepted"},
			{"ping", gp("ping", "l-6", "github-ping.json", "", false), 200, "pong"},
			{"unknown event", gp("issues", "l-7", "github-issues-opened.json", "", false), 202, "ignored"},
			{"wrong signature", gp("push", "l-8", "github-push.json", webhook.SignatureHeader([]byte("guess"), sample(t, "github-push.json")), false), 401, "error"},
			{"distribution push", regEv(webhook.PathDistribution, "distribution-push.json", "Bearer "+lambdaToken), 202, "accepted"},
			{"distribution delete", regEv(webhook.PathDistribution, "distribution-delete.json", "Bearer "+lambdaToken), 202, "ignored"},
			{"harbor push", regEv(webhook.PathHarbor, "harbor-push.json", lambdaToken), 202, "accepted"},
			{"wrong registry token", regEv(webhook.PathDistribution, "distribution-push.json", "Bearer nope"), 401, "error"},
		} {
			var resp events.APIGatewayV2HTTPResponse
			fns["webhook"].invoke(t, tc.ev, &resp)
			var body webhook.Response
			_ = json.Unmarshal([]byte(resp.Body), &body)
			if resp.StatusCode != tc.code || body.Status != tc.status {
				t.Errorf("%s: %d %q, want %d %q (%s)", tc.name, resp.StatusCode, body.Status, tc.code, tc.status, resp.Body)
			}
		}
		got := map[string]int{}
		for _, name := range []string{queue.Builds, queue.Images, queue.Approvals} {
			for _, m := range q.drain(urls[name].Queue) {
				env, err := event.Decode([]byte(aws.ToString(m.Body)))
				if err != nil {
					t.Errorf("%s holds a message that is not an envelope: %v", name, err)
					continue
				}
				got[name+"/"+string(env.Kind)]++
			}
		}
		want := map[string]int{"builds/push": 2, "approvals/review": 2, "images/image": 3}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("queued envelopes (-want +got):\n%s", diff)
		}
	})

	pushBody := string(sample(t, "envelope-push.json"))
	imageFor := func(dgst string) string {
		var e map[string]any
		_ = json.Unmarshal(sample(t, "envelope-image.json"), &e)
		p := e["payload"].(map[string]any)
		p["registry"], p["digest"] = regHost, dgst
		out, _ := json.Marshal(e)
		return string(out)
	}

	t.Run("build", func(t *testing.T) {
		recs := q.deliver(queue.Builds, []sent{{body: pushBody}, {body: "not json"}, {body: imageFor(digest.String())}})
		// No app builds from acme/web in this pipeline: done. The other
		// two are permanent failures, dead-lettered, not reported.
		q.assertBatch(fns["build"], recs, nil)
		q.assertDead(queue.Builds, recs[1:], "")
	})

	t.Run("promote", func(t *testing.T) {
		var promo event.Promotion
		env0, _ := event.Decode(sample(t, "envelope-promotion.json"))
		_ = env0.DecodePayload(&promo)
		// staging already runs this digest: the promotion is current.
		rel := state.Release{ID: promote.ReleaseID("web", "staging", promo.Digest), App: "web", Env: "staging",
			Image: regHost + "/acme/web", Digest: promo.Digest, State: state.Merged, PR: 42, MergedAt: time.Now().UTC(),
			SourceTime: promo.Created}
		if err := st.PutRelease(ctx, &rel); err != nil {
			t.Fatal(err)
		}
		recs := q.deliver(queue.Promotions, []sent{{body: string(sample(t, "envelope-promotion.json")), group: "web/staging"},
			{body: pushBody, group: "bad"}})
		q.assertBatch(fns["promote"], recs, nil)
		q.assertDead(queue.Promotions, recs[1:], "wrong envelope kind")
	})

	t.Run("registry", func(t *testing.T) {
		missing := "sha256:4f2a8c0d6e1b3a5c7e9f0b2d4a6c8e0f1a3b5c7d9e1f3a5b7c9d1e3f5a7b9c1e"
		recs := q.deliver(queue.Images, []sent{{body: imageFor(digest.String())}, {body: imageFor(missing)},
			{body: string(sample(t, "ecr-push.json"))}, {body: "{"}})
		q.assertBatch(fns["registry"], recs, nil)
		q.assertDead(queue.Images, []events.SQSMessage{recs[1], recs[3]}, "")
		var got []string
		for _, m := range q.drain(urls[queue.Promotions].Queue) {
			var p event.Promotion
			e, _ := event.Decode([]byte(aws.ToString(m.Body)))
			_ = e.DecodePayload(&p)
			got = append(got, p.App+"/"+p.Environment+"@"+p.Digest)
		}
		if diff := cmp.Diff([]string{"web/dev@" + digest.String()}, got); diff != "" {
			t.Errorf("promotions (-want +got):\n%s", diff)
		}
	})

	t.Run("approval", func(t *testing.T) {
		review := string(sample(t, "envelope-review.json"))
		recs := q.deliver(queue.Approvals, []sent{{body: review}})
		// PR 43 proposed nothing on record yet: transient, reported.
		other := strings.Replace(review, `"number": 42`, `"number": 43`, 1)
		recs2 := q.deliver(queue.Approvals, []sent{{body: other}})
		q.assertBatch(fns["approval"], append(recs, recs2...), []string{recs2[0].MessageId})
		var got []string
		for _, m := range q.drain(urls[queue.Promotions].Queue) {
			var p event.Promotion
			e, _ := event.Decode([]byte(aws.ToString(m.Body)))
			_ = e.DecodePayload(&p)
			got = append(got, p.App+"/"+p.Environment+" from "+p.From)
		}
		if diff := cmp.Diff([]string{"web/prod from staging"}, got); diff != "" {
			t.Errorf("next-environment promotions (-want +got):\n%s", diff)
		}
	})

	t.Run("replay", func(t *testing.T) {
		var req replay.Request
		_ = json.Unmarshal(sample(t, "replay-request.json"), &req)
		req.Queue, req.Kind, req.Since = queue.Builds, "image", ""
		var sum replay.Summary
		fns["replay"].invoke(t, req, &sum)
		if sum.Matched != 1 || sum.Moved != 1 || sum.Failed != 0 {
			t.Errorf("replay summary %+v, want 1 matched and moved", sum)
		}
		back := q.drain(urls[queue.Builds].Queue)
		if len(back) != 1 || !strings.Contains(aws.ToString(back[0].Body), `"kind":"image"`) {
			t.Errorf("builds queue after replay holds %d messages, want the image envelope", len(back))
		}
	})

	t.Run("board", func(t *testing.T) {
		testBoardLambda(t, fns["board"], ghToken)
		// It listed the dead letters without receiving one: each is still
		// visible in its queue.
		for name, want := range map[string]int{queue.Builds: 1, queue.Promotions: 1, queue.Images: 2} {
			out, err := sqsc.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(urls[name].DeadLetter),
				AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages}})
			if err != nil {
				t.Fatal(err)
			}
			if got := out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)]; got != strconv.Itoa(want) {
				t.Errorf("%s's dead-letter queue has %s visible messages after the board, want %d", name, got, want)
			}
		}
	})

	t.Run("forge asked only to confirm", func(t *testing.T) {
		log := gh.requestLog()
		if len(log) == 0 {
			t.Error("the approval function never confirmed a review event with the forge")
		}
		for _, r := range log {
			if r.Method != http.MethodGet || (r.Path != "/api-v3/repos/acme/gitops/pulls/42" && r.Path != "/api-v3/repos/acme/gitops/pulls/43") {
				t.Errorf("unexpected GitHub request %s %s (%d)", r.Method, r.Path, r.Status)
			}
		}
	})

	t.Run("in-process webhook logs no secrets", func(t *testing.T) {
		testWebhookLogsNoSecrets(t, endpoint, urls)
	})
}

// testWebhookLogsNoSecrets wires the webhook as functions/webhook does,
// with every log line captured, and checks that neither the secret nor the
// token is ever written, whatever the request.
func testWebhookLogsNoSecrets(t *testing.T, endpoint string, urls map[string]sqsqueue.URLs) {
	vars := map[string]string{"CONVEYOR_TABLE": lambdaTable, "CONVEYOR_AWS_ENDPOINT": endpoint,
		"CONVEYOR_GITHUB_WEBHOOK_SECRET": lambdaSecret, "CONVEYOR_REGISTRY_WEBHOOK_TOKEN": lambdaToken}
	for _, n := range []string{queue.Builds, queue.Images, queue.Approvals} {
		vars[awsenv.QueueVar(n, false)] = urls[n].Queue
	}
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	var logs bytes.Buffer
	log := awsenv.NewLogger(&lockedWriter{w: &logs}, "DEBUG")
	cfg, err := awsenv.Load(lookup, awsenv.Table, awsenv.Webhook, awsenv.Sender(queue.Builds), awsenv.Sender(queue.Images), awsenv.Sender(queue.Approvals))
	if err != nil {
		t.Fatal(err)
	}
	log.Info("configuration", "config", cfg, "secret", cfg.WebhookSecret, "token", cfg.RegistryToken)
	env := awsenv.New(emulator.Config(endpoint), cfg, log)
	h, err := env.Webhook(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	push := sample(t, "github-push.json")
	for _, ev := range []events.APIGatewayV2HTTPRequest{
		apiEvent(webhook.PathGitHub, push, false, map[string]string{"x-github-event": "push", "x-github-delivery": "secrets-1",
			"x-hub-signature-256": webhook.SignatureHeader([]byte(lambdaSecret), push)}),
		apiEvent(webhook.PathGitHub, push, false, map[string]string{"x-github-event": "push", "x-github-delivery": "secrets-2",
			"x-hub-signature-256": webhook.SignatureHeader([]byte(lambdaSecret+"x"), push)}),
		apiEvent(webhook.PathGitHub, push, false, map[string]string{"x-github-event": "push", "x-github-delivery": "secrets-3"}),
		apiEvent(webhook.PathDistribution, sample(t, "distribution-push.json"), false, map[string]string{"authorization": "Bearer " + lambdaToken}),
		apiEvent(webhook.PathDistribution, sample(t, "distribution-push.json"), false, map[string]string{"authorization": "Bearer " + lambdaToken + "0"}),
		apiEvent(webhook.PathHarbor, []byte("[]"), false, map[string]string{"authorization": lambdaToken}),
	} {
		if _, err := h(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	// A configuration error with the plain values set, too.
	delete(vars, "CONVEYOR_TABLE")
	vars["CONVEYOR_GITHUB_WEBHOOK_SECRET_ARN"] = lambdaSecret
	if _, err := awsenv.Load(lookup, awsenv.Table, awsenv.Webhook); err != nil {
		log.Error("starting the webhook function", "error", err.Error())
	}
	out := logs.String()
	if n := strings.Count(out, "\n"); n < 5 {
		t.Fatalf("only %d log lines captured:\n%s", n, out)
	}
	for _, s := range []string{lambdaSecret, lambdaToken} {
		if strings.Contains(out, s) {
			t.Errorf("the logs contain %q:\n%s", s, out)
		}
	}
}

// sample reads events/<file>.
func sample(t testing.TB, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "events", file))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// apiEvent is an API Gateway HTTP API (payload 2.0) request, headers in
// lower case as API Gateway delivers them.
func apiEvent(path string, body []byte, b64 bool, headers map[string]string) events.APIGatewayV2HTTPRequest {
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "POST " + path, RawPath: path, Headers: headers, Body: string(body),
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RequestID: "req-" + strconv.FormatInt(time.Now().UnixNano(), 36), Stage: "$default",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: http.MethodPost, Path: path, Protocol: "HTTP/1.1", SourceIP: "192.0.2.10"},
		},
	}
	if b64 {
		ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	}
	return ev
}

// gitopsRepo commits conveyor.yaml to main in a new repository.
func gitopsRepo(t *testing.T, regHost string) string {
	t.Helper()
	dir := t.TempDir()
	yaml := fmt.Sprintf(`version: 1
gitops:
  branch: main
apps:
  - name: web
    source: {repo: https://git.example.invalid/acme/other}
    image: %s/acme/web
    environments:
      - {name: dev, path: envs/dev, reviewers: [alice]}
      - {name: staging, path: envs/staging, reviewers: [alice]}
      - {name: prod, path: envs/prod, reviewers: [alice]}
`, regHost)
	if _, err := config.Parse("conveyor.yaml", []byte(yaml)); err != nil {
		t.Fatal(err)
	}
	repo, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName("main")}})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "conveyor.yaml"), yaml)
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wt.Add("conveyor.yaml"); err != nil {
		t.Fatal(err)
	}
	sig := &object.Signature{Name: "test", Email: "test@example.com", When: time.Now()}
	if _, err := wt.Commit("pipeline", &git.CommitOptions{Author: sig}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// awsProxy is one endpoint in front of the SQS and DynamoDB emulators.
func awsProxy(t testing.TB, sqsURL, dynamoURL string) string {
	t.Helper()
	sq, _ := url.Parse(sqsURL)
	dy, _ := url.Parse(dynamoURL)
	p := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		stackMeter.awsRequest(r.In)
		target := sq
		if strings.HasPrefix(r.In.Header.Get("X-Amz-Target"), "DynamoDB_") {
			target = dy
		}
		r.SetURL(target)
	}}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return srv.URL
}

// buildBootstraps builds each function as Lambda's bootstrap (make build's
// flags) for goarch into dir/<name>.
func buildBootstraps(dir, goarch string, fns []string) error {
	root, err := emulator.RepoRoot()
	if err != nil {
		return err
	}
	args := []string{"build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w -buildid=", "-o", dir + string(filepath.Separator)}
	for _, fn := range fns {
		args = append(args, "./functions/"+fn)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+goarch, "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building the functions: %v\n%s", err, out)
	}
	return nil
}

// lambdaProcess is a bootstrap running under aws-lambda-rie.
type lambdaProcess struct {
	// mu makes invocations one at a time: the emulator runs one.
	mu      sync.Mutex
	url     string
	cmd     *exec.Cmd
	exited  chan struct{}
	out     *lockedWriter
	buf     *bytes.Buffer
	started time.Time
}

// startLambda runs bootstrap under the emulator on free loopback ports and
// returns once the emulator accepts connections; the function itself is
// started by the first invocation, as Lambda does. A port taken between
// choosing and binding it makes the emulator exit: it is started again on
// other ports.
func startLambda(tb testing.TB, rie, bootstrap string, env []string) *lambdaProcess {
	tb.Helper()
	var err error
	for range 3 {
		var p *lambdaProcess
		if p, err = tryLambda(tb, rie, bootstrap, env); err == nil {
			tb.Cleanup(p.stop)
			return p
		}
	}
	tb.Fatalf("starting %s: %v", rie, err)
	return nil
}

func tryLambda(tb testing.TB, rie, bootstrap string, env []string) (*lambdaProcess, error) {
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(tb))
	api := fmt.Sprintf("127.0.0.1:%d", freePort(tb))
	buf := &bytes.Buffer{}
	p := &lambdaProcess{url: "http://" + addr + "/2015-03-31/functions/function/invocations", buf: buf, out: &lockedWriter{w: buf},
		exited: make(chan struct{})}
	p.cmd = exec.Command(rie, "--runtime-interface-emulator-address", addr, "--runtime-api-address", api, "--log-level", "error", bootstrap)
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	// Its own process group, so the bootstrap the emulator forks stops too.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p.started = time.Now()
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-p.exited:
			return nil, fmt.Errorf("the emulator exited: %s", p.output())
		default:
		}
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			// Whatever answered may be another server that took the port
			// first: the emulator, failing to bind, exits at once.
			select {
			case <-p.exited:
				return nil, fmt.Errorf("the emulator exited: %s", p.output())
			case <-time.After(100 * time.Millisecond):
				return p, nil
			}
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("it did not listen on %s: %s", addr, p.output())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (p *lambdaProcess) output() string {
	p.out.mu.Lock()
	defer p.out.mu.Unlock()
	return p.buf.String()
}

func (p *lambdaProcess) stop() {
	if p.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.exited
}

// invoke posts payload as the event and decodes the function's answer
// into out; a function error fails the test with the function's output.
func (p *lambdaProcess) invoke(tb testing.TB, payload, out any) {
	tb.Helper()
	raw, err := p.call(payload)
	if err != nil {
		tb.Fatalf("invoking %s: %v\n%s", filepath.Base(p.cmd.Args[len(p.cmd.Args)-1]), err, p.output())
	}
	var fnErr struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}
	if json.Unmarshal(raw, &fnErr) == nil && fnErr.ErrorType != "" {
		tb.Fatalf("function error %s: %s\n%s", fnErr.ErrorType, fnErr.ErrorMessage, p.output())
	}
	if err := json.Unmarshal(raw, out); err != nil {
		tb.Fatalf("decoding %s: %v", raw, err)
	}
}

func (p *lambdaProcess) call(payload any) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	began := time.Now()
	defer func() { stackMeter.invoked(p.cmd.Args[len(p.cmd.Args)-1], time.Since(began)) }()
	body, err := json.Marshal(payload)
	if err != nil {
		return nil, err
	}
	resp, err := http.Post(p.url, "application/json", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", resp.Status, raw)
	}
	return raw, nil
}

// sqsHelper sends, receives and inspects the emulator's queues.
type sqsHelper struct {
	t    *testing.T
	c    *sqs.Client
	urls map[string]sqsqueue.URLs
}

type sent struct{ body, group string }

// deliver sends bodies to a queue and receives them back as the records of
// a Lambda SQS event, with real receipt handles (so the function can
// dead-letter them).
func (q *sqsHelper) deliver(name string, msgs []sent) []events.SQSMessage {
	q.t.Helper()
	ctx := context.Background()
	u := q.urls[name].Queue
	for i, m := range msgs {
		in := &sqs.SendMessageInput{QueueUrl: aws.String(u), MessageBody: aws.String(m.body)}
		if strings.HasSuffix(u, ".fifo") {
			in.MessageGroupId = aws.String(m.group)
			in.MessageDeduplicationId = aws.String(fmt.Sprintf("%s-%d-%d", name, i, time.Now().UnixNano()))
		}
		if _, err := q.c.SendMessage(ctx, in); err != nil {
			q.t.Fatal(err)
		}
	}
	got := q.receive(u, len(msgs), 120)
	if len(got) != len(msgs) {
		q.t.Fatalf("received %d of the %d messages sent to %s", len(got), len(msgs), name)
	}
	// Keep the order sent, as the event source mapping does.
	order := map[string]int{}
	for i, m := range msgs {
		order[m.body] = i
	}
	sort.Slice(got, func(i, j int) bool { return order[aws.ToString(got[i].Body)] < order[aws.ToString(got[j].Body)] })
	recs := make([]events.SQSMessage, len(got))
	for i, m := range got {
		recs[i] = events.SQSMessage{
			MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle), Body: aws.ToString(m.Body),
			Attributes: m.Attributes, MessageAttributes: map[string]events.SQSMessageAttribute{},
			EventSource: "aws:sqs", EventSourceARN: "arn:aws:sqs:us-east-1:000000000000:" + name, AWSRegion: emulator.Region,
		}
		for k, v := range m.MessageAttributes {
			recs[i].MessageAttributes[k] = events.SQSMessageAttribute{StringValue: v.StringValue, DataType: aws.ToString(v.DataType)}
		}
	}
	return recs
}

func (q *sqsHelper) receive(u string, want int, visibility int32) []sqstypes.Message {
	q.t.Helper()
	var out []sqstypes.Message
	for empty := 0; empty < 2 && (want == 0 || len(out) < want); {
		r, err := q.c.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(u), MaxNumberOfMessages: 10,
			VisibilityTimeout: visibility, MessageAttributeNames: []string{"All"},
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll}})
		if err != nil {
			q.t.Fatal(err)
		}
		if len(r.Messages) == 0 {
			empty++
			continue
		}
		out = append(out, r.Messages...)
	}
	return out
}

// drain receives and deletes every visible message of a queue.
func (q *sqsHelper) drain(u string) []sqstypes.Message {
	q.t.Helper()
	msgs := q.receive(u, 0, 120)
	for _, m := range msgs {
		if _, err := q.c.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(u), ReceiptHandle: m.ReceiptHandle}); err != nil {
			q.t.Fatal(err)
		}
	}
	return msgs
}

// assertBatch invokes fn with the records and compares the reported
// failures with want (message ids).
func (q *sqsHelper) assertBatch(fn *lambdaProcess, recs []events.SQSMessage, want []string) {
	q.t.Helper()
	var resp events.SQSEventResponse
	fn.invoke(q.t, events.SQSEvent{Records: recs}, &resp)
	var got []string
	for _, f := range resp.BatchItemFailures {
		got = append(got, f.ItemIdentifier)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		q.t.Errorf("batchItemFailures (-want +got):\n%s\n%s", diff, fn.output())
	}
}

// assertDead checks that exactly the records are in the queue's
// dead-letter queue, each with a dead_reason containing reason, and leaves
// them there (visible) for replay.
func (q *sqsHelper) assertDead(name string, recs []events.SQSMessage, reason string) {
	q.t.Helper()
	u := q.urls[name].DeadLetter
	dead := q.receive(u, len(recs)+1, 30)
	for _, m := range dead {
		if _, err := q.c.ChangeMessageVisibility(context.Background(), &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(u),
			ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0}); err != nil {
			q.t.Fatal(err)
		}
	}
	var want, got []string
	for _, r := range recs {
		want = append(want, r.Body)
	}
	for _, m := range dead {
		got = append(got, aws.ToString(m.Body))
		why := aws.ToString(m.MessageAttributes[queue.AttrDeadReason].StringValue)
		if why == "" || !strings.Contains(why, reason) {
			q.t.Errorf("dead letter in %s has reason %q, want one containing %q", name, why, reason)
		}
	}
	sort.Strings(want)
	sort.Strings(got)
	if diff := cmp.Diff(want, got); diff != "" {
		q.t.Errorf("dead letters of %s (-want +got):\n%s", name, diff)
	}
}

// BenchmarkColdStart reports, per function, the size of its deployment zip
// (built as `make build` does: arm64, zipped by infra/lambdazip) and its
// cold start under aws-lambda-rie: from starting the emulator process to
// the first invocation's answer, the median of 10 (the bootstrap is built
// for this machine's architecture to run here). No AWS service is reached:
// the first invocation is an empty batch (a health check for the webhook),
// so init and one no-op invoke are what is measured. reconcile is left
// out: any invocation of it is a full pass, reading the GitOps repository.
func BenchmarkColdStart(b *testing.B) {
	rie := tool(b, "aws-lambda-rie")
	root, err := emulator.RepoRoot()
	if err != nil {
		b.Fatal(err)
	}
	arm, host, tmp := b.TempDir(), b.TempDir(), b.TempDir()
	for _, step := range []func() error{
		func() error { return buildBootstraps(arm, "arm64", lambdaFunctions) },
		func() error { return buildBootstraps(host, runtime.GOARCH, lambdaFunctions) },
		func() error {
			cmd := exec.Command("go", "build", "-o", filepath.Join(tmp, "lambdazip"), "./infra/lambdazip")
			cmd.Dir = root
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("building lambdazip: %v\n%s", err, out)
			}
			return nil
		},
	} {
		if err := step(); err != nil {
			b.Fatal(err)
		}
	}
	env := []string{"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=conveyor", "AWS_SECRET_ACCESS_KEY=conveyor",
		"AWS_EC2_METADATA_DISABLED=true", "HOME=" + tmp, "CONVEYOR_AWS_ENDPOINT=http://127.0.0.1:9",
		"CONVEYOR_TABLE=" + lambdaTable, "CONVEYOR_GITHUB_WEBHOOK_SECRET=" + lambdaSecret,
		"CONVEYOR_REGISTRY_WEBHOOK_TOKEN=" + lambdaToken, "CONVEYOR_GITOPS_REPO=https://github.com/acme/gitops",
		"CONVEYOR_GITHUB_TOKEN=ghs_bench"}
	for _, s := range queue.Topology {
		env = append(env, awsenv.QueueVar(s.Name, false)+"=http://127.0.0.1:9/000000000000/"+sqsqueue.QueueName(s),
			awsenv.QueueVar(s.Name, true)+"=http://127.0.0.1:9/000000000000/"+sqsqueue.DeadLetterQueueName(s))
	}
	first := map[string]any{
		"webhook": events.APIGatewayV2HTTPRequest{RawPath: webhook.PathHealth, RequestContext: events.APIGatewayV2HTTPRequestContext{
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: http.MethodGet, Path: webhook.PathHealth}}},
		"replay": replay.Request{Queue: queue.Builds, DryRun: true, Since: "not a time"},
		"board": events.APIGatewayV2HTTPRequest{RawPath: "/version", RequestContext: events.APIGatewayV2HTTPRequestContext{
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: http.MethodGet, Path: "/version"}}},
	}
	for _, fn := range lambdaFunctions {
		if fn == "reconcile" {
			continue
		}
		b.Run(fn, func(b *testing.B) {
			zip := filepath.Join(tmp, fn+".zip")
			bootstrap := filepath.Join(tmp, fn, "bootstrap")
			if err := os.MkdirAll(filepath.Dir(bootstrap), 0o755); err != nil {
				b.Fatal(err)
			}
			if err := os.Rename(filepath.Join(arm, fn), bootstrap); err != nil && !os.IsNotExist(err) {
				b.Fatal(err)
			}
			if out, err := exec.Command(filepath.Join(tmp, "lambdazip"), "-o", zip, bootstrap).CombinedOutput(); err != nil {
				b.Fatalf("zipping %s: %v\n%s", fn, err, out)
			}
			zi, err := os.Stat(zip)
			if err != nil {
				b.Fatal(err)
			}
			payload, ok := first[fn]
			if !ok {
				payload = events.SQSEvent{Records: []events.SQSMessage{}}
			}
			var inits []time.Duration
			for i := 0; i < b.N; i++ {
				for range 10 {
					p := startLambda(b, rie, filepath.Join(host, fn), env)
					if _, err := p.call(payload); err != nil {
						b.Fatalf("first invocation of %s: %v\n%s", fn, err, p.output())
					}
					inits = append(inits, time.Since(p.started))
					p.stop()
				}
			}
			sort.Slice(inits, func(i, j int) bool { return inits[i] < inits[j] })
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(float64(zi.Size()), "zip-bytes")
			b.ReportMetric(float64(inits[len(inits)/2].Microseconds())/1000, "init-ms")
		})
	}
}
