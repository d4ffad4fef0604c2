package test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/conveyor-gitops/conveyor/shared/awsenv"
	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/demo"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/queue/sqsqueue"
	"github.com/conveyor-gitops/conveyor/shared/reconcile"
	"github.com/conveyor-gitops/conveyor/shared/state"
	"github.com/conveyor-gitops/conveyor/shared/state/dynamostate"
	"github.com/conveyor-gitops/conveyor/shared/webhook"
	"github.com/conveyor-gitops/conveyor/shared/wiring"
	"github.com/conveyor-gitops/conveyor/test/emulator"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// The test stack's queues: the topology with a few seconds of visibility
// and three receives, so that retries, holds and redrives play out in
// seconds. Builds get longer: a build must not reappear while it runs.
var stackQueues = []queue.Spec{
	{Name: queue.Builds, MaxReceives: 3, Visibility: 30 * time.Second},
	{Name: queue.Images, MaxReceives: 3, Visibility: 5 * time.Second},
	{Name: queue.Promotions, FIFO: true, MaxReceives: 3, Visibility: 3 * time.Second},
	{Name: queue.Approvals, MaxReceives: 3, Visibility: 5 * time.Second},
	{Name: queue.Notifications, MaxReceives: 3, Visibility: 5 * time.Second},
}

// Repositories of the stack's GitHub.
const (
	stackSource = "acme/web"
	stackGitOps = "acme/gitops"
)

var bootstraps struct {
	once    sync.Once
	started atomic.Bool
	dir     string
	err     error
}

// lambdaBootstraps builds every function once per test binary, as Lambda's
// bootstrap for this machine, into a directory removeBootstraps removes.
func lambdaBootstraps() (string, error) {
	bootstraps.started.Store(true)
	bootstraps.once.Do(func() {
		if bootstraps.dir, bootstraps.err = os.MkdirTemp("", "conveyor-bootstraps-"); bootstraps.err == nil {
			bootstraps.err = buildBootstraps(bootstraps.dir, runtime.GOARCH, lambdaFunctions)
		}
	})
	return bootstraps.dir, bootstraps.err
}

// removeBootstraps waits for a build under way (a test may fail before its
// build ends) and removes its directory.
func removeBootstraps() {
	if bootstraps.started.Load() {
		if dir, _ := lambdaBootstraps(); dir != "" {
			os.RemoveAll(dir)
		}
	}
}

// lambdaStack is Conveyor deployed as on AWS, on this machine: the seven
// bootstraps under the runtime emulator, SQS (fauxqs) and DynamoDB
// (dynalite), the CNCF distribution registry whose notifications reach the
// webhook function through an API Gateway stand-in, a GitHub serving the
// source and GitOps repositories over smart HTTP and its REST API, and the
// event source mappings between the queues and their functions.
type lambdaStack struct {
	t        testing.TB
	gh       *githubServer
	gateway  *apiGateway
	st       *dynamostate.Store
	sqs      *sqs.Client
	urls     map[string]sqsqueue.URLs
	fns      map[string]*lambdaProcess
	esm      map[string]*eventSourceMapping
	registry string // host:port
	image    string // registry/acme/web
	reviewer string // alice's token
	started  time.Duration
}

// startLambdaStack starts the stack with conveyor.yaml from pipeline (the
// registry's host:port and the source repository in, the file out).
func startLambdaStack(t testing.TB, pipeline func(registry, source string) string) *lambdaStack {
	t.Helper()
	began := time.Now()
	rie := tool(t, "aws-lambda-rie")
	ctx := context.Background()
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
	s := &lambdaStack{t: t, sqs: sqsSrv.SQS(), urls: map[string]sqsqueue.URLs{}, fns: map[string]*lambdaProcess{},
		esm: map[string]*eventSourceMapping{}}
	endpoint := awsProxy(t, sqsSrv.Endpoint, dynSrv.Endpoint)
	var err error
	if s.st, err = dynamostate.New(dynSrv.DynamoDB(), lambdaTable); err != nil {
		t.Fatal(err)
	}
	if err := s.st.CreateTable(ctx); err != nil {
		t.Fatal(err)
	}
	for _, spec := range stackQueues {
		if s.urls[spec.Name], err = sqsqueue.CreateQueues(ctx, s.sqs, spec); err != nil {
			t.Fatal(err)
		}
	}

	// GitHub and the registry send their webhooks through API Gateway.
	s.gateway = startAPIGateway(t)
	s.registry = startDistribution(t, s.gateway.URL+webhook.PathDistribution, lambdaToken)
	s.image = s.registry + "/acme/web"
	s.gh = newGitHubServer(t, []byte(lambdaSecret))
	s.gh.subscribe(stackSource, s.gateway.URL+webhook.PathGitHub, "push")
	s.gh.subscribe(stackGitOps, s.gateway.URL+webhook.PathGitHub, "pull_request", "pull_request_review")
	botToken := s.gh.user("conveyor-bot")
	s.reviewer = s.gh.user("alice")
	s.gh.createRepo(t, stackSource, demo.AppFiles())
	// The source by its GitHub name: the functions find it on the GitHub
	// host of the API, as on GitHub Enterprise.
	files := demo.GitOpsFiles(stackSource, s.image)
	files["conveyor.yaml"] = pipeline(s.registry, stackSource)
	if _, err := config.Parse("conveyor.yaml", []byte(files["conveyor.yaml"])); err != nil {
		t.Fatal(err)
	}
	s.gh.createRepo(t, stackGitOps, files)

	if err := <-built; err != nil {
		t.Fatal(err)
	}
	bins, _ := lambdaBootstraps()
	env := []string{
		"AWS_REGION=" + emulator.Region, "AWS_ACCESS_KEY_ID=conveyor", "AWS_SECRET_ACCESS_KEY=conveyor",
		"AWS_EC2_METADATA_DISABLED=true", "HOME=" + t.TempDir(), "TMPDIR=" + t.TempDir(), "AWS_LAMBDA_LOG_LEVEL=DEBUG",
		"SSL_CERT_FILE=" + s.gh.CAFile,
		"CONVEYOR_AWS_ENDPOINT=" + endpoint, "CONVEYOR_TABLE=" + lambdaTable,
		"CONVEYOR_GITHUB_WEBHOOK_SECRET=" + lambdaSecret, "CONVEYOR_REGISTRY_WEBHOOK_TOKEN=" + lambdaToken,
		"CONVEYOR_GITOPS_REPO=" + s.gh.cloneURL(stackGitOps), "CONVEYOR_GITHUB_REPOSITORY=" + stackGitOps,
		"CONVEYOR_GITHUB_TOKEN=" + botToken, "CONVEYOR_GITHUB_API_URL=" + s.gh.URL + "/api-v3/",
		// Tests invoke reconcile once the stack is quiet: nothing is on its way.
		reconcile.VarSettle + "=0s",
	}
	// A test's own variables (notification receivers' secrets) reach
	// every function, as a stack's function environment would.
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "CONVEYOR_TEST_") {
			env = append(env, kv)
		}
	}
	for name, u := range s.urls {
		env = append(env, awsenv.QueueVar(name, false)+"="+u.Queue, awsenv.QueueVar(name, true)+"="+u.DeadLetter)
	}
	var mu sync.Mutex
	for _, fn := range lambdaFunctions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := startLambda(t, rie, filepath.Join(bins, fn), env)
			mu.Lock()
			s.fns[fn] = p
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(s.fns) != len(lambdaFunctions) {
		t.FailNow()
	}
	s.gateway.route(s.fns["webhook"])
	s.startMappings()
	s.started = time.Since(began)
	t.Cleanup(func() {
		if t.Failed() {
			s.dump()
		}
	})
	return s
}

// startMappings runs one event source mapping per consumer until the test
// ends; they stop before anything else does.
func (s *lambdaStack) startMappings() {
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	// The event source mappings are the wiring table's, as infra/template.yaml's are.
	for _, m := range wiring.Functions {
		spec := stackSpec(m.Queue)
		e := &eventSourceMapping{function: m.Name, fn: s.fns[m.Name], sqs: s.sqs, queueURL: s.urls[m.Queue].Queue,
			arn: "arn:aws:sqs:" + emulator.Region + ":000000000000:" + sqsqueue.QueueName(spec), batch: m.BatchSize}
		s.esm[m.Queue] = e
		wg.Add(1)
		go func() { defer wg.Done(); e.run(ctx) }()
	}
	s.t.Cleanup(func() { stop(); wg.Wait() })
}

// push commits files to the source's main branch as a developer would;
// GitHub sends the signed push webhook.
func (s *lambdaStack) push(files map[string]string, message string) string {
	s.t.Helper()
	return s.gh.push(s.t, stackSource, "main", files, message, time.Now())
}

// approve submits alice's approving review of pull request n through the
// REST API; GitHub sends the signed review webhook.
func (s *lambdaStack) approve(n int) {
	s.t.Helper()
	p, _ := s.gh.pull(stackGitOps, n)
	if p.State != "open" {
		s.t.Fatalf("pull request #%d is %s, not open", n, p.State)
	}
	req := fmt.Sprintf(`{"event":"APPROVE","commit_id":%q}`, s.gh.revParse(stackGitOps, p.Head))
	code, body := httpDo(s.t, s.gh.Client, "POST", fmt.Sprintf("%s/api-v3/repos/%s/pulls/%d/reviews", s.gh.URL, stackGitOps, n), s.reviewer, req)
	if code != 200 {
		s.t.Fatalf("approving #%d: %d %s", n, code, body)
	}
}

// waitFor polls cond every 100 ms until it holds, failing the test with
// what after limit.
func (s *lambdaStack) waitFor(what string, limit time.Duration, cond func() bool) time.Duration {
	s.t.Helper()
	began := time.Now()
	for !cond() {
		if time.Since(began) > limit {
			s.t.Fatalf("waited %v for %s", limit, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return time.Since(began)
}

// waitOpenPull waits for the open pull request of branch, failing at once
// when anything is dead-lettered meanwhile.
func (s *lambdaStack) waitOpenPull(branch string, limit time.Duration) ghPull {
	s.t.Helper()
	var p ghPull
	s.waitFor("an open pull request from "+branch, limit, func() bool {
		s.noDeadLetters()
		var ok bool
		p, ok = s.gh.openPull(stackGitOps, branch)
		return ok
	})
	return p
}

// noDeadLetters fails the test now if any dead-letter queue holds a
// message.
func (s *lambdaStack) noDeadLetters() {
	s.t.Helper()
	if dead := s.deadLetters(); len(dead) > 0 {
		s.t.Fatalf("dead-lettered: %v:\n%s", dead, s.peekDead())
	}
}

// peekDead lists the dead letters' bodies and reasons, leaving them there.
func (s *lambdaStack) peekDead() string {
	var b strings.Builder
	for name, u := range s.urls {
		out, err := s.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(u.DeadLetter),
			MaxNumberOfMessages: 10, VisibilityTimeout: 0, MessageAttributeNames: []string{"All"}})
		if err != nil {
			continue
		}
		for _, m := range out.Messages {
			reason := "none recorded (redriven by the queue)"
			if a, ok := m.MessageAttributes[queue.AttrDeadReason]; ok {
				reason = aws.ToString(a.StringValue)
			}
			fmt.Fprintf(&b, "  %s: reason %s: %.300s\n", name, reason, aws.ToString(m.Body))
		}
	}
	return b.String()
}

// stackSpec returns the test stack's settings of queue name.
func stackSpec(name string) queue.Spec {
	for _, s := range stackQueues {
		if s.Name == name {
			return s
		}
	}
	panic("no queue " + name)
}

// release returns the merged release of env, if recorded.
func (s *lambdaStack) release(env string) (state.Release, bool) {
	s.t.Helper()
	return s.releaseIn(env, state.Merged)
}

// releaseIn returns a release of env in state st, if recorded.
func (s *lambdaStack) releaseIn(env string, st state.ReleaseState) (state.Release, bool) {
	s.t.Helper()
	rels, err := s.st.ListReleases(context.Background(), state.ReleaseFilter{App: "web", Env: env, State: st})
	if err != nil {
		s.t.Fatal(err)
	}
	if len(rels) == 0 {
		return state.Release{}, false
	}
	return rels[len(rels)-1], true
}

// deployed is the digest envs/<env> pins on the GitOps repository's main.
func (s *lambdaStack) deployed(env string) string {
	for _, line := range strings.Split(s.gh.file(stackGitOps, "main", "envs/"+env+"/kustomization.yaml"), "\n") {
		if d, ok := strings.CutPrefix(strings.TrimSpace(line), "digest: "); ok {
			return d
		}
	}
	return ""
}

// built is the digest the registry holds for the build of commit sha.
func (s *lambdaStack) built(sha string) string {
	s.t.Helper()
	ref, err := name.ParseReference(s.image + ":sha-" + sha[:12])
	if err != nil {
		s.t.Fatal(err)
	}
	d, err := remote.Head(ref)
	if err != nil {
		s.t.Fatalf("the registry has no build of %.12s: %v", sha, err)
	}
	return d.Digest.String()
}

// depth counts a queue's messages: visible, in flight and delayed.
func (s *lambdaStack) depth(url string) int {
	s.t.Helper()
	out, err := s.sqs.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible, sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed}})
	if err != nil {
		s.t.Fatal(err)
	}
	n := 0
	for _, v := range out.Attributes {
		c, _ := strconv.Atoi(v)
		n += c
	}
	return n
}

// deadLetters counts the messages of every dead-letter queue, by queue.
func (s *lambdaStack) deadLetters() map[string]int {
	out := map[string]int{}
	for name, u := range s.urls {
		if n := s.depth(u.DeadLetter); n > 0 {
			out[name] = n
		}
	}
	return out
}

// settle waits until every queue is empty, then checks what the stack
// must never leave behind: dead letters, webhooks refused, requests GitHub
// does not serve, mapping errors.
func (s *lambdaStack) settle() {
	s.t.Helper()
	s.waitFor("every queue to empty", 30*time.Second, func() bool {
		for _, u := range s.urls {
			if s.depth(u.Queue) > 0 {
				return false
			}
		}
		return true
	})
	if dead := s.deadLetters(); len(dead) > 0 {
		s.t.Errorf("dead letters: %v:\n%s", dead, s.peekDead())
	}
	for _, d := range s.gh.sent() {
		if d.Status != 200 && d.Status != 202 {
			s.t.Errorf("GitHub's %s %s webhook got %d %s %s", d.Event, d.Action, d.Status, d.Response, d.Err)
		}
	}
	for _, r := range s.gh.unmatched() {
		s.t.Errorf("GitHub request no route serves: %s %s", r.Method, r.Path)
	}
	for q, m := range s.esm {
		for _, p := range m.problems {
			s.t.Errorf("event source mapping of %s: %s", q, p)
		}
	}
}

// logsClean checks that no function logged an error: a clean run fails
// nothing, not even once.
func (s *lambdaStack) logsClean() {
	s.t.Helper()
	for n, fn := range s.fns {
		for _, line := range strings.Split(fn.output(), "\n") {
			if strings.Contains(line, `"level":"ERROR"`) {
				s.t.Errorf("the %s function logged an error: %s", n, line)
			}
		}
	}
}

// dump logs what explains a failure: each function's output, the
// deliveries and the records each function was handed.
func (s *lambdaStack) dump() {
	names := make([]string, 0, len(s.fns))
	for n := range s.fns {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		out := s.fns[n].output()
		if len(out) > 20000 {
			out = "…" + out[len(out)-20000:]
		}
		s.t.Logf("--- %s function output:\n%s", n, out)
	}
	for _, d := range s.gh.sent() {
		s.t.Logf("webhook %s %s: %d %s %s", d.Event, d.Action, d.Status, d.Response, d.Err)
	}
	for q, m := range s.esm {
		for _, r := range m.receives() {
			s.t.Logf("%s: %s receive %s failed=%v %.200s", q, r.At.Format("15:04:05.000"), r.Receives, r.Failed, r.Body)
		}
	}
	s.t.Logf("dead letters: %v", s.deadLetters())
}
