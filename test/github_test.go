package test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/webhook"
)

// githubServer is a small stateful GitHub for end-to-end tests, over TLS.
// It serves the repositories under its root over git smart HTTP (the real
// git http-backend), as github.com serves clones — pushes need a token as
// the password, fetches take one if given — and under /api-v3/ the part
// of the REST API Conveyor's GitHub adapter uses, as a GitHub Enterprise
// host does: pull requests, labels, requested reviewers, reviews, merges
// that really merge the head branch into the base of the served repository,
// commit statuses, compare. Like GitHub it sends signed webhooks — push
// after a push to a repository that subscribes, pull_request (opened,
// closed) and pull_request_review — and never retries one.
//
// Every API request is logged with its matched route, time and status;
// limitRate makes a route answer 429 with Retry-After for a while.
type githubServer struct {
	URL string // https://127.0.0.1:PORT
	// CAFile holds the certificate clients must trust (SSL_CERT_FILE for
	// Go programs, GIT_SSL_CAINFO for git); Client trusts it.
	CAFile string
	Client *http.Client
	root   string // bare repositories: root/OWNER/NAME.git
	secret []byte
	api    *http.ServeMux
	git    http.Handler

	mu         sync.Mutex
	hookURL    string
	hooks      map[string][]string // "owner/name" → events sent for it
	tokens     map[string]string   // token → login
	pulls      map[string][]*ghPull
	statuses   map[string][]ghStatus // sha → statuses, oldest first
	limits     map[string]*ghLimit   // route → rate limit
	requests   []ghRequest
	deliveries []ghDelivery
	sending    sync.WaitGroup
}

// ghPull is one pull request's state.
type ghPull struct {
	Number             int
	Title, Body        string
	Head, Base         string
	User               string
	Labels             []string
	RequestedReviewers []string
	Reviews            []ghReview
	Comments           []string
	State              string // "open" or "closed"
	Merged             bool
	MergeCommit        string
	MergedBy           string
	// HeadSHA is the head when the pull request closed; an open one's head
	// is read from its branch.
	HeadSHA                                  string
	CreatedAt, UpdatedAt, ClosedAt, MergedAt time.Time
}

type ghReview struct {
	ID       int64
	User     string
	State    string // as the REST API says it: APPROVED, CHANGES_REQUESTED, COMMENTED
	CommitID string
	At       time.Time
}

type ghStatus struct {
	State, Context string
}

// ghLimit answers 429 to a route from its first request after limitRate
// for wait.
type ghLimit struct {
	wait  time.Duration
	until time.Time
}

// ghRequest is one API request the server answered.
type ghRequest struct {
	At     time.Time
	Method string
	Route  string // the matched pattern, "" when none matched
	Path   string
	Status int
}

// ghDelivery is one webhook the server sent.
type ghDelivery struct {
	Event, Action, ID string
	Status            int
	Response          string
	Err               string
}

// Routes of the API, as logged in ghRequest.Route.
const (
	ghRepoAPI       = "/api-v3/repos/{owner}/{repo}"
	routeCreatePull = "POST " + ghRepoAPI + "/pulls"
	routeMergePull  = "PUT " + ghRepoAPI + "/pulls/{n}/merge"
)

// newGitHubServer starts the server; webhooks are signed with secret. Its
// repositories and API are served until the test ends, after every webhook
// under way has been sent.
func newGitHubServer(t testing.TB, secret []byte) *githubServer {
	t.Helper()
	gitPath, err := exec.LookPath("git")
	if err != nil {
		t.Fatalf("the git CLI serves the repositories: %v", err)
	}
	s := &githubServer{root: t.TempDir(), secret: secret, hooks: map[string][]string{}, tokens: map[string]string{},
		pulls: map[string][]*ghPull{}, statuses: map[string][]ghStatus{}, limits: map[string]*ghLimit{}}
	s.git = &cgi.Handler{Path: gitPath, Args: []string{"http-backend"},
		Env:        []string{"GIT_PROJECT_ROOT=" + s.root, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1"},
		InheritEnv: []string{"PATH"}}
	s.routes()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api-v3/") {
			s.serveAPI(w, r)
			return
		}
		s.serveGit(w, r)
	}))
	s.URL, s.Client = srv.URL, srv.Client()
	s.CAFile = filepath.Join(t.TempDir(), "github-ca.pem")
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(s.CAFile, ca, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.sending.Wait(); srv.Close() })
	return s
}

func (s *githubServer) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET "+ghRepoAPI+"/pulls", s.listPulls)
	m.HandleFunc(routeCreatePull, s.createPull)
	m.HandleFunc("GET "+ghRepoAPI+"/pulls/{n}", s.withPull(s.getPull))
	m.HandleFunc("PATCH "+ghRepoAPI+"/pulls/{n}", s.withPull(s.editPull))
	m.HandleFunc(routeMergePull, s.withPull(s.mergePull))
	m.HandleFunc("GET "+ghRepoAPI+"/pulls/{n}/reviews", s.withPull(s.listReviews))
	m.HandleFunc("POST "+ghRepoAPI+"/pulls/{n}/reviews", s.withPull(s.createReview))
	m.HandleFunc("POST "+ghRepoAPI+"/pulls/{n}/requested_reviewers", s.withPull(s.requestReviewers))
	m.HandleFunc("POST "+ghRepoAPI+"/issues/{n}/labels", s.withPull(s.addLabels))
	m.HandleFunc("PUT "+ghRepoAPI+"/issues/{n}/labels", s.withPull(s.setLabels))
	m.HandleFunc("POST "+ghRepoAPI+"/issues/{n}/comments", s.withPull(s.comment))
	m.HandleFunc("POST "+ghRepoAPI+"/statuses/{sha}", s.createStatus)
	m.HandleFunc("GET "+ghRepoAPI+"/commits/{ref}/status", s.combinedStatus)
	m.HandleFunc("GET "+ghRepoAPI+"/commits/{ref}/check-runs", s.checkRuns)
	m.HandleFunc("GET "+ghRepoAPI+"/compare/{basehead}", s.compare)
	// No teams: every membership is unknown, as for a user outside them.
	m.HandleFunc("GET /api-v3/orgs/{org}/teams/{team}/memberships/{user}", func(w http.ResponseWriter, r *http.Request) {
		ghError(w, http.StatusNotFound, "Not Found")
	})
	s.api = m
}

// user adds a user and returns the token that authenticates as them.
func (s *githubServer) user(login string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	tok := "ghs_" + randomHex(18)
	s.tokens[tok] = login
	return tok
}

// subscribe sends webhooks of the events for repository full to url.
func (s *githubServer) subscribe(full, url string, events ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hookURL = url
	s.hooks[full] = append(s.hooks[full], events...)
}

// limitRate makes route answer 429 with a Retry-After of wait, from its
// next request until wait has passed, as a secondary rate limit does.
func (s *githubServer) limitRate(route string, wait time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limits[route] = &ghLimit{wait: wait}
}

// requestsTo returns the requests answered on route, oldest first.
func (s *githubServer) requestsTo(route string) []ghRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ghRequest
	for _, r := range s.requests {
		if r.Route == route {
			out = append(out, r)
		}
	}
	return out
}

// requestLog returns every API request answered, oldest first.
func (s *githubServer) requestLog() []ghRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// seedPull adds pull request p, as it stands, to repository full.
func (s *githubServer) seedPull(full string, p ghPull) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pulls[full] = append(s.pulls[full], &p)
}

// unmatched returns the requests no route answered.
func (s *githubServer) unmatched() []ghRequest { return s.requestsTo("") }

// sent returns the webhooks delivered so far.
func (s *githubServer) sent() []ghDelivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.deliveries)
}

// pull returns a copy of pull request n of repository full.
func (s *githubServer) pull(full string, n int) (ghPull, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.find(full, n); p != nil {
		return *p, true
	}
	return ghPull{}, false
}

// openPull returns the open pull request whose head is branch.
func (s *githubServer) openPull(full, branch string) (ghPull, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.pulls[full] {
		if p.State == "open" && p.Head == branch {
			return *p, true
		}
	}
	return ghPull{}, false
}

func (s *githubServer) find(full string, n int) *ghPull {
	for _, p := range s.pulls[full] {
		if p.Number == n {
			return p
		}
	}
	return nil
}

// createRepo makes repository full ("owner/name") with files committed on
// main, accepting pushes, and returns its clone URL.
func (s *githubServer) createRepo(t testing.TB, full string, files map[string]string) string {
	t.Helper()
	dir := s.repoDir(full)
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"init", "-q", "--bare", "-b", "main", dir}, {"-C", dir, "config", "http.receivepack", "true"}} {
		if _, err := gitCLI("", nil, args...); err != nil {
			t.Fatal(err)
		}
	}
	work := t.TempDir()
	if _, err := gitCLI(work, nil, "init", "-q", "-b", "main"); err != nil {
		t.Fatal(err)
	}
	s.commitFiles(t, work, files, "initial commit", time.Now())
	if _, err := gitCLI(work, nil, "push", "-q", dir, "main"); err != nil {
		t.Fatal(err)
	}
	return s.cloneURL(full)
}

// push commits files (path → content) on branch of repository full as a
// developer would, cloning and pushing over HTTP, so the push webhook goes
// out; it returns the new commit.
func (s *githubServer) push(t testing.TB, full, branch string, files map[string]string, message string, when time.Time) string {
	t.Helper()
	return s.pushTo(t, full, branch, branch, files, message, when)
}

// pushTo is push onto branch from, pushed as branch to (created if new).
func (s *githubServer) pushTo(t testing.TB, full, from, to string, files map[string]string, message string, when time.Time) string {
	t.Helper()
	work := t.TempDir()
	u, _ := url.Parse(s.cloneURL(full))
	u.User = url.UserPassword("dana", s.user("dana"))
	env := []string{"GIT_SSL_CAINFO=" + s.CAFile}
	if _, err := gitCLI(work, env, "clone", "-q", "--branch", from, u.String(), "."); err != nil {
		t.Fatal(err)
	}
	sha := s.commitFiles(t, work, files, message, when)
	if _, err := gitCLI(work, env, "push", "-q", "origin", "HEAD:refs/heads/"+to); err != nil {
		t.Fatal(err)
	}
	return sha
}

func (s *githubServer) commitFiles(t testing.TB, work string, files map[string]string, message string, when time.Time) string {
	t.Helper()
	for p, data := range files {
		full := filepath.Join(work, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	date := when.UTC().Format(time.RFC3339)
	env := []string{"GIT_AUTHOR_DATE=" + date, "GIT_COMMITTER_DATE=" + date}
	for _, args := range [][]string{{"add", "-A"}, {"commit", "-q", "--allow-empty", "-m", message}} {
		if _, err := gitCLI(work, env, args...); err != nil {
			t.Fatal(err)
		}
	}
	sha, err := gitCLI(work, nil, "rev-parse", "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	return sha
}

// file returns path at ref of repository full ("" when absent).
func (s *githubServer) file(full, ref, path string) string {
	out, err := gitCLI(s.repoDir(full), nil, "show", ref+":"+path)
	if err != nil {
		return ""
	}
	return out
}

func (s *githubServer) repoDir(full string) string {
	return filepath.Join(s.root, filepath.FromSlash(full)+".git")
}

func (s *githubServer) cloneURL(full string) string { return s.URL + "/" + full + ".git" }

// revParse returns the commit a branch or revision names in repository
// full, or "".
func (s *githubServer) revParse(full, rev string) string {
	if !strings.HasPrefix(rev, "refs/") && !isHex(rev) {
		rev = "refs/heads/" + rev
	}
	out, err := gitCLI(s.repoDir(full), nil, "rev-parse", "--verify", "-q", rev+"^{commit}")
	if err != nil {
		return ""
	}
	return out
}

// gitCLI runs git in dir (no user or system configuration) and returns its
// trimmed output; a failure's error carries stderr.
func gitCLI(dir string, env []string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Dana Developer", "GIT_AUTHOR_EMAIL=dana@example.test",
		"GIT_COMMITTER_NAME=Dana Developer", "GIT_COMMITTER_EMAIL=dana@example.test")
	cmd.Env = append(cmd.Env, env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return strings.TrimSpace(string(out)), &gitError{args: args, err: err, stderr: stderr.String()}
	}
	return strings.TrimSpace(string(out)), nil
}

type gitError struct {
	args   []string
	err    error
	stderr string
}

func (e *gitError) Error() string {
	return fmt.Sprintf("git %s: %v: %s", strings.Join(e.args, " "), e.err, e.stderr)
}

func isHex(s string) bool {
	if len(s) < 7 {
		return false
	}
	_, err := hex.DecodeString(s[:len(s)&^1])
	return err == nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// serveAPI authenticates a request, applies the rate limits and logs it.
func (s *githubServer) serveAPI(w http.ResponseWriter, r *http.Request) {
	_, route := s.api.Handler(r)
	rec := &statusWriter{ResponseWriter: w}
	login := s.login(r)
	r = r.WithContext(context.WithValue(r.Context(), ghLoginKey{}, login))
	switch wait := s.limited(route); {
	case login == "":
		ghError(rec, http.StatusUnauthorized, "Bad credentials")
	case wait > 0:
		rec.Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
		ghError(rec, http.StatusTooManyRequests, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.")
	default:
		s.api.ServeHTTP(rec, r)
	}
	s.mu.Lock()
	s.requests = append(s.requests, ghRequest{At: time.Now(), Method: r.Method, Route: route, Path: r.URL.Path, Status: rec.code})
	s.mu.Unlock()
}

// limited returns how long route is still rate limited, starting its
// window at its first request once armed.
func (s *githubServer) limited(route string) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.limits[route]
	if !ok {
		return 0
	}
	if l.until.IsZero() {
		l.until = time.Now().Add(l.wait)
	}
	return time.Until(l.until)
}

type ghLoginKey struct{}

// loginOf is the user serveAPI authenticated.
func loginOf(r *http.Request) string {
	l, _ := r.Context().Value(ghLoginKey{}).(string)
	return l
}

// login is the user a request's token authenticates, or "".
func (s *githubServer) login(r *http.Request) string {
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "token ")
	if !ok {
		tok, _ = strings.CutPrefix(auth, "Bearer ")
	}
	return s.tokenLogin(tok)
}

func (s *githubServer) tokenLogin(tok string) string {
	if tok == "" {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokens[tok]
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func ghJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func ghError(w http.ResponseWriter, code int, message string, details ...map[string]any) {
	body := map[string]any{"message": message, "documentation_url": "https://docs.github.com/rest"}
	if len(details) > 0 {
		body["errors"] = details
	}
	ghJSON(w, code, body)
}

func fullName(r *http.Request) string { return r.PathValue("owner") + "/" + r.PathValue("repo") }

func decodeBody(r *http.Request, v any) error {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// withPull resolves {n} to a pull request of an existing repository and
// runs h with the server locked.
func (s *githubServer) withPull(h func(w http.ResponseWriter, r *http.Request, full string, p *ghPull)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		full := fullName(r)
		n, err := strconv.Atoi(r.PathValue("n"))
		s.mu.Lock()
		defer s.mu.Unlock()
		p := s.find(full, n)
		if err != nil || p == nil {
			ghError(w, http.StatusNotFound, "Not Found")
			return
		}
		h(w, r, full, p)
	}
}

func (s *githubServer) listPulls(w http.ResponseWriter, r *http.Request) {
	full, q := fullName(r), r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []map[string]any{}
	for _, p := range s.pulls[full] {
		owner, _, _ := strings.Cut(full, "/")
		switch {
		case state != "all" && p.State != state:
		case q.Get("head") != "" && q.Get("head") != owner+":"+p.Head:
		case q.Get("base") != "" && q.Get("base") != p.Base:
		default:
			out = append(out, s.pullJSON(full, p))
		}
	}
	ghJSON(w, http.StatusOK, out)
}

func (s *githubServer) createPull(w http.ResponseWriter, r *http.Request) {
	full := fullName(r)
	var in struct{ Title, Head, Base, Body string }
	if err := decodeBody(r, &in); err != nil {
		ghError(w, http.StatusBadRequest, "Problems parsing JSON")
		return
	}
	owner, _, _ := strings.Cut(full, "/")
	in.Head = strings.TrimPrefix(in.Head, owner+":")
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.revParse(full, in.Head) == "":
		ghError(w, http.StatusUnprocessableEntity, "Validation Failed", map[string]any{"resource": "PullRequest", "field": "head", "code": "invalid"})
		return
	case s.revParse(full, in.Base) == "":
		ghError(w, http.StatusUnprocessableEntity, "Validation Failed", map[string]any{"resource": "PullRequest", "field": "base", "code": "invalid"})
		return
	}
	for _, p := range s.pulls[full] {
		if p.State == "open" && p.Head == in.Head {
			ghError(w, http.StatusUnprocessableEntity, "Validation Failed", map[string]any{"resource": "PullRequest", "code": "custom",
				"message": "A pull request already exists for " + owner + ":" + in.Head + "."})
			return
		}
	}
	now := time.Now().UTC()
	number := 1
	for _, q := range s.pulls[full] {
		number = max(number, q.Number+1)
	}
	p := &ghPull{Number: number, Title: in.Title, Body: in.Body, Head: in.Head, Base: in.Base,
		User: loginOf(r), State: "open", CreatedAt: now, UpdatedAt: now}
	s.pulls[full] = append(s.pulls[full], p)
	ghJSON(w, http.StatusCreated, s.pullJSON(full, p))
	s.hook(full, "pull_request", s.pullEvent("opened", full, p, p.User))
}

func (s *githubServer) getPull(w http.ResponseWriter, r *http.Request, full string, p *ghPull) {
	ghJSON(w, http.StatusOK, s.pullJSON(full, p))
}

func (s *githubServer) editPull(w http.ResponseWriter, r *http.Request, full string, p *ghPull) {
	var in struct{ Title, Body, State *string }
	if err := decodeBody(r, &in); err != nil {
		ghError(w, http.StatusBadRequest, "Problems parsing JSON")
		return
	}
	if in.Title != nil {
		p.Title = *in.Title
	}
	if in.Body != nil {
		p.Body = *in.Body
	}
	p.UpdatedAt = time.Now().UTC()
	closing := in.State != nil && *in.State == "closed" && p.State == "open"
	if closing {
		p.HeadSHA = s.revParse(full, p.Head)
		p.State, p.ClosedAt = "closed", p.UpdatedAt
	}
	ghJSON(w, http.StatusOK, s.pullJSON(full, p))
	if closing {
		s.hook(full, "pull_request", s.pullEvent("closed", full, p, loginOf(r)))
	}
}

// mergePull merges the head branch into the base in the served repository:
// a merge commit (merge), or one commit on the base (squash, rebase).
func (s *githubServer) mergePull(w http.ResponseWriter, r *http.Request, full string, p *ghPull) {
	var in struct {
		CommitMessage string `json:"commit_message"`
		SHA           string `json:"sha"`
		MergeMethod   string `json:"merge_method"`
	}
	if err := decodeBody(r, &in); err != nil {
		ghError(w, http.StatusBadRequest, "Problems parsing JSON")
		return
	}
	head := s.revParse(full, p.Head)
	switch {
	case p.State != "open":
		ghError(w, http.StatusMethodNotAllowed, "Pull Request is not mergeable")
		return
	case in.SHA != "" && in.SHA != head:
		ghError(w, http.StatusConflict, "Head branch was modified. Review and try the merge again.")
		return
	case !slices.Contains([]string{"", "merge", "squash", "rebase"}, in.MergeMethod):
		ghError(w, http.StatusUnprocessableEntity, "Validation Failed")
		return
	}
	login := loginOf(r)
	mc, err := s.mergeBranch(full, p, head, in.MergeMethod, in.CommitMessage, login)
	if err != nil {
		ghError(w, http.StatusMethodNotAllowed, "Pull Request is not mergeable")
		return
	}
	now := time.Now().UTC()
	p.State, p.Merged, p.MergeCommit, p.MergedBy, p.HeadSHA = "closed", true, mc, login, head
	p.MergedAt, p.ClosedAt, p.UpdatedAt = now, now, now
	ghJSON(w, http.StatusOK, map[string]any{"sha": mc, "merged": true, "message": "Pull Request successfully merged"})
	s.hook(full, "pull_request", s.pullEvent("closed", full, p, login))
}

func (s *githubServer) mergeBranch(full string, p *ghPull, head, method, message, login string) (string, error) {
	dir := s.repoDir(full)
	base := s.revParse(full, p.Base)
	tree, err := gitCLI(dir, nil, "merge-tree", "--write-tree", base, head)
	if err != nil {
		return "", err // exit status 1: conflicts
	}
	owner, _, _ := strings.Cut(full, "/")
	msg := fmt.Sprintf("Merge pull request #%d from %s/%s\n\n%s", p.Number, owner, p.Head, p.Title)
	args := []string{"commit-tree", strings.Fields(tree)[0], "-p", base}
	if method == "squash" || method == "rebase" {
		msg = fmt.Sprintf("%s (#%d)", p.Title, p.Number)
	} else {
		args = append(args, "-p", head)
	}
	if message != "" {
		msg += "\n\n" + message
	}
	args = append(args, "-m", msg)
	env := []string{"GIT_AUTHOR_NAME=" + login, "GIT_AUTHOR_EMAIL=" + login + "@users.noreply.github.test",
		"GIT_COMMITTER_NAME=GitHub", "GIT_COMMITTER_EMAIL=noreply@github.test"}
	commit, err := gitCLI(dir, env, args...)
	if err != nil {
		return "", err
	}
	// Compare-and-swap: a push to the base meanwhile refuses the merge.
	if _, err := gitCLI(dir, nil, "update-ref", "refs/heads/"+p.Base, commit, base); err != nil {
		return "", err
	}
	return commit, nil
}

func (s *githubServer) listReviews(w http.ResponseWriter, r *http.Request, full string, p *ghPull) {
	out := []map[string]any{}
	for _, rv := range p.Reviews {
		out = append(out, reviewJSON(rv, rv.State))
	}
	ghJSON(w, http.StatusOK, out)
}

// createReview submits a review as the token's user (a pending review,
// with no event, is not submitted and sends nothing).
func (s *githubServer) createReview(w http.ResponseWriter, r *http.Request, full string, p *ghPull) {
	var in struct {
		CommitID string `json:"commit_id"`
		Event    string `json:"event"`
	}
	if err := decodeBody(r, &in); err != nil {
		ghError(w, http.StatusBadRequest, "Problems parsing JSON")
		return
	}
	states := map[string]string{"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED", "COMMENT": "COMMENTED", "": "PENDING"}
	state, ok := states[in.Event]
	login := loginOf(r)
	switch {
	case !ok:
		ghError(w, http.StatusUnprocessableEntity, "Validation Failed")
		return
	case state == "APPROVED" && login == p.User:
		ghError(w, http.StatusUnprocessableEntity, "Unprocessable Entity", map[string]any{"message": "Can not approve your own pull request"})
		return
	}
	if in.CommitID == "" {
		in.CommitID = s.revParse(full, p.Head)
	}
	rv := ghReview{ID: int64(len(p.Reviews) + 1), User: login, State: state, CommitID: in.CommitID, At: time.Now().UTC()}
	if state != "PENDING" {
		p.Reviews = append(p.Reviews, rv)
	}
	ghJSON(w, http.StatusOK, reviewJSON(rv, state))
	if state != "PENDING" {
		ev := s.pullEvent("submitted", full, p, login)
		ev["review"] = reviewJSON(rv, strings.ToLower(state)) // webhooks say "approved"
		s.hook(full, "pull_request_review", ev)
	}
}

func (s *githubServer) requestReviewers(w http.ResponseWriter, r *http.Request, full string, p *ghPull) {
	var in struct {
		Reviewers     []string `json:"reviewers"`
		TeamReviewers []string `json:"team_reviewers"`
	}
	if err := decodeBody(r, &in); err != nil {
		ghError(w, http.StatusBadRequest, "Problems parsing JSON")
		return
	}
	if slices.Contains(in.Reviewers, p.User) {
		ghError(w, http.StatusUnprocessableEntity, "Review cannot be requested from pull request author.")
		return
	}
	for _, u := range append(in.Reviewers, in.TeamReviewers...) {
		if !slices.Contains(p.RequestedReviewers, u) {
			p.RequestedReviewers = append(p.RequestedReviewers, u)
		}
	}
	ghJSON(w, http.StatusCreated, s.pullJSON(full, p))
}

// readLabels reads a labels body: a JSON array, or {"labels": [...]}.
func readLabels(r *http.Request) ([]string, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	var list []string
	if json.Unmarshal(b, &list) == nil {
		return list, nil
	}
	var obj struct{ Labels []string }
	err = json.Unmarshal(b, &obj)
	return obj.Labels, err
}

func (s *githubServer) addLabels(w http.ResponseWriter, r *http.Request, full string, p *ghPull) {
	add, err := readLabels(r)
	if err != nil {
		ghError(w, http.StatusBadRequest, "Problems parsing JSON")
		return
	}
	for _, l := range add {
		if !slices.Contains(p.Labels, l) {
			p.Labels = append(p.Labels, l)
		}
	}
	ghJSON(w, http.StatusOK, labelsJSON(p.Labels))
}

func (s *githubServer) setLabels(w http.ResponseWriter, r *http.Request, full string, p *ghPull) {
	set, err := readLabels(r)
	if err != nil {
		ghError(w, http.StatusBadRequest, "Problems parsing JSON")
		return
	}
	p.Labels = slices.Compact(slices.Clone(set))
	ghJSON(w, http.StatusOK, labelsJSON(p.Labels))
}

func (s *githubServer) comment(w http.ResponseWriter, r *http.Request, full string, p *ghPull) {
	var in struct{ Body string }
	if err := decodeBody(r, &in); err != nil {
		ghError(w, http.StatusBadRequest, "Problems parsing JSON")
		return
	}
	p.Comments = append(p.Comments, in.Body)
	ghJSON(w, http.StatusCreated, map[string]any{"id": len(p.Comments), "body": in.Body, "user": userJSON(loginOf(r))})
}

func (s *githubServer) createStatus(w http.ResponseWriter, r *http.Request) {
	var in struct{ State, Context string }
	if err := decodeBody(r, &in); err != nil || !slices.Contains([]string{"error", "failure", "pending", "success"}, in.State) {
		ghError(w, http.StatusUnprocessableEntity, "Validation Failed")
		return
	}
	if in.Context == "" {
		in.Context = "default"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sha := r.PathValue("sha")
	s.statuses[sha] = append(s.statuses[sha], ghStatus{State: in.State, Context: in.Context})
	ghJSON(w, http.StatusCreated, map[string]any{"state": in.State, "context": in.Context})
}

// combinedStatus combines each context's latest status: failure if any
// failed, pending if any is pending (or none exists), success otherwise.
func (s *githubServer) combinedStatus(w http.ResponseWriter, r *http.Request) {
	full := fullName(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	sha := s.revParse(full, r.PathValue("ref"))
	latest := map[string]string{}
	var contexts []string
	for _, st := range s.statuses[sha] {
		if _, ok := latest[st.Context]; !ok {
			contexts = append(contexts, st.Context)
		}
		latest[st.Context] = st.State
	}
	state := "success"
	list := []map[string]any{}
	for _, c := range contexts {
		list = append(list, map[string]any{"state": latest[c], "context": c})
		switch latest[c] {
		case "failure", "error":
			state = "failure"
		case "pending":
			if state == "success" {
				state = "pending"
			}
		}
	}
	if len(contexts) == 0 {
		state = "pending"
	}
	ghJSON(w, http.StatusOK, map[string]any{"state": state, "sha": sha, "total_count": len(contexts), "statuses": list})
}

func (s *githubServer) checkRuns(w http.ResponseWriter, r *http.Request) {
	ghJSON(w, http.StatusOK, map[string]any{"total_count": 0, "check_runs": []any{}})
}

// compare answers base...head from the repository's commit graph.
func (s *githubServer) compare(w http.ResponseWriter, r *http.Request) {
	full := fullName(r)
	base, head, ok := strings.Cut(r.PathValue("basehead"), "...")
	b, h := s.revParse(full, base), s.revParse(full, head)
	if !ok || b == "" || h == "" {
		ghError(w, http.StatusNotFound, "Not Found")
		return
	}
	ancestor := func(a, d string) bool {
		_, err := gitCLI(s.repoDir(full), nil, "merge-base", "--is-ancestor", a, d)
		return err == nil
	}
	status := "diverged"
	switch {
	case b == h:
		status = "identical"
	case ancestor(b, h):
		status = "ahead"
	case ancestor(h, b):
		status = "behind"
	}
	ghJSON(w, http.StatusOK, map[string]any{"status": status, "base_commit": map[string]any{"sha": b}})
}

func userJSON(login string) map[string]any {
	return map[string]any{"login": login, "type": "User"}
}

func labelsJSON(ls []string) []map[string]any {
	out := []map[string]any{}
	for _, l := range ls {
		out = append(out, map[string]any{"name": l})
	}
	return out
}

func reviewJSON(rv ghReview, state string) map[string]any {
	return map[string]any{"id": rv.ID, "user": userJSON(rv.User), "state": state, "commit_id": rv.CommitID,
		"submitted_at": rv.At.Format(time.RFC3339)}
}

func (s *githubServer) repoJSON(full string) map[string]any {
	_, name, _ := strings.Cut(full, "/")
	return map[string]any{"name": name, "full_name": full, "clone_url": s.cloneURL(full), "html_url": s.URL + "/" + full,
		"default_branch": "main"}
}

func timeJSON(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.Format(time.RFC3339)
}

// pullJSON renders a pull request as the REST API does. An open one's head
// is its branch's commit now, and GitHub's mergeability is whether the head
// merges into the base without conflicts.
func (s *githubServer) pullJSON(full string, p *ghPull) map[string]any {
	owner, _, _ := strings.Cut(full, "/")
	head, mergeable := p.HeadSHA, any(nil)
	if p.State == "open" {
		head = s.revParse(full, p.Head)
		_, err := gitCLI(s.repoDir(full), nil, "merge-tree", "--write-tree", s.revParse(full, p.Base), head)
		mergeable = err == nil
	}
	out := map[string]any{
		"number": p.Number, "state": p.State, "title": p.Title, "body": p.Body, "user": userJSON(p.User),
		"html_url": fmt.Sprintf("%s/%s/pull/%d", s.URL, full, p.Number),
		"labels":   labelsJSON(p.Labels),
		"head":     map[string]any{"ref": p.Head, "sha": head, "label": owner + ":" + p.Head, "repo": s.repoJSON(full)},
		"base":     map[string]any{"ref": p.Base, "sha": s.revParse(full, p.Base), "label": owner + ":" + p.Base, "repo": s.repoJSON(full)},
		"merged":   p.Merged, "mergeable": mergeable, "merge_commit_sha": nil, "merged_by": nil,
		"created_at": timeJSON(p.CreatedAt), "updated_at": timeJSON(p.UpdatedAt), "closed_at": timeJSON(p.ClosedAt), "merged_at": timeJSON(p.MergedAt),
	}
	var reviewers []map[string]any
	for _, u := range p.RequestedReviewers {
		reviewers = append(reviewers, userJSON(u))
	}
	out["requested_reviewers"] = reviewers
	if p.Merged {
		out["merge_commit_sha"], out["merged_by"] = p.MergeCommit, userJSON(p.MergedBy)
	}
	return out
}

func (s *githubServer) pullEvent(action, full string, p *ghPull, sender string) map[string]any {
	return map[string]any{"action": action, "number": p.Number, "pull_request": s.pullJSON(full, p),
		"repository": s.repoJSON(full), "sender": userJSON(sender)}
}

// serveGit serves the repositories; after a push it sends a push webhook
// for each branch that moved.
func (s *githubServer) serveGit(w http.ResponseWriter, r *http.Request) {
	full, isPush := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/"), ".git/git-receive-pack")
	_, tok, hasAuth := r.BasicAuth()
	pushing := isPush || r.URL.Query().Get("service") == "git-receive-pack"
	if (hasAuth || pushing) && s.tokenLogin(tok) == "" {
		w.Header().Set("WWW-Authenticate", `Basic realm="GitHub"`)
		http.Error(w, "Invalid username or password.", http.StatusUnauthorized)
		return
	}
	var before map[string]string
	if isPush && s.subscribed(full, "push") {
		before = s.branches(full)
	}
	s.git.ServeHTTP(w, r)
	if before == nil {
		return
	}
	after := s.branches(full)
	s.mu.Lock()
	defer s.mu.Unlock()
	for ref, sha := range after {
		if before[ref] != sha {
			s.hook(full, "push", s.pushEvent(full, ref, before[ref], sha))
		}
	}
}

func (s *githubServer) subscribed(full, event string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Contains(s.hooks[full], event)
}

// branches maps each branch ref of repository full to its commit.
func (s *githubServer) branches(full string) map[string]string {
	out, _ := gitCLI(s.repoDir(full), nil, "for-each-ref", "--format=%(refname) %(objectname)", "refs/heads/")
	refs := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if ref, sha, ok := strings.Cut(line, " "); ok {
			refs[ref] = sha
		}
	}
	return refs
}

// pushEvent is GitHub's push payload for ref moving from before ("" for a
// new branch) to after, listing the pushed commits with their files.
func (s *githubServer) pushEvent(full, ref, before, after string) map[string]any {
	dir := s.repoDir(full)
	span := after
	if before != "" {
		span = before + ".." + after
	} else {
		span = "-1 " + after
	}
	revs, _ := gitCLI(dir, nil, append([]string{"rev-list", "--reverse"}, strings.Fields(span)...)...)
	commits := []map[string]any{}
	for _, sha := range strings.Fields(revs) {
		info, _ := gitCLI(dir, nil, "show", "-s", "--format=%cI%n%an%n%ae%n%B", sha)
		lines := strings.SplitN(info, "\n", 4)
		for len(lines) < 4 {
			lines = append(lines, "")
		}
		files := map[string][]string{"A": {}, "D": {}, "M": {}}
		changed, _ := gitCLI(dir, nil, "diff-tree", "--no-commit-id", "--name-status", "-r", "--root", sha)
		for _, line := range strings.Split(changed, "\n") {
			if st, path, ok := strings.Cut(line, "\t"); ok {
				k := st[:1]
				if _, known := files[k]; !known {
					k = "M"
				}
				files[k] = append(files[k], path)
			}
		}
		commits = append(commits, map[string]any{"id": sha, "message": lines[3], "timestamp": lines[0],
			"url": s.URL + "/" + full + "/commit/" + sha, "author": map[string]any{"name": lines[1], "email": lines[2], "username": "dana"},
			"added": files["A"], "removed": files["D"], "modified": files["M"]})
	}
	if before == "" {
		before = strings.Repeat("0", 40)
	}
	ev := map[string]any{"ref": ref, "before": before, "after": after, "created": before == strings.Repeat("0", 40),
		"deleted": false, "forced": false, "repository": s.repoJSON(full), "commits": commits, "head_commit": nil,
		"pusher": map[string]any{"name": "dana", "email": "dana@example.test"}, "sender": userJSON("dana")}
	if len(commits) > 0 {
		ev["head_commit"] = commits[len(commits)-1]
	}
	return ev
}

// hook sends a signed webhook for repository full if it subscribes to
// event, in the background, as GitHub does after answering the request that
// caused it. The caller holds s.mu.
func (s *githubServer) hook(full, event string, payload map[string]any) {
	if !slices.Contains(s.hooks[full], event) {
		return
	}
	url := s.hookURL
	body, err := json.Marshal(payload)
	if err != nil {
		panic(err)
	}
	action, _ := payload["action"].(string)
	d := ghDelivery{Event: event, Action: action, ID: randomHex(16)}
	s.sending.Add(1)
	go func() {
		defer s.sending.Done()
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "GitHub-Hookshot/test")
		req.Header.Set("X-GitHub-Event", event)
		req.Header.Set("X-GitHub-Delivery", d.ID)
		req.Header.Set("X-Hub-Signature-256", webhook.SignatureHeader(s.secret, body))
		// GitHub waits 10 s for an answer and never retries by itself.
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			d.Err = err.Error()
		} else {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			d.Status, d.Response = resp.StatusCode, string(b)
		}
		s.mu.Lock()
		s.deliveries = append(s.deliveries, d)
		s.mu.Unlock()
	}()
}
