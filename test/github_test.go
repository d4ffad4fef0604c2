package test

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
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
	drops      map[string]int // "event/action" → how many of the next to lose
	lost       []ghDelivery
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

// ghDelivery is one webhook the server sent (or lost).
type ghDelivery struct {
	Event, Action, ID string
	// Number is the pull request's, for pull request events.
	Number   int
	Status   int
	Response string
	Err      string
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
		pulls: map[string][]*ghPull{}, statuses: map[string][]ghStatus{}, limits: map[string]*ghLimit{}, drops: map[string]int{}}
	s.git = &cgi.Handler{Path: gitPath, Args: []string{"http-backend"},
		Env:        []string{"GIT_PROJECT_ROOT=" + s.root, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1"},
		InheritEnv: []string{"PATH"}}
	s.routes()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stackMeter.githubRequest(r)
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

// dropWebhooks loses the next n webhooks of event with action ("" for
// any action), as a delivery lost on the way is: GitHub does not retry it
// and nothing reaches the receiver. lostWebhooks lists them.
func (s *githubServer) dropWebhooks(event, action string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drops[event+"/"+action] += n
}

// lostWebhooks returns the webhooks dropWebhooks lost, oldest first.
func (s *githubServer) lostWebhooks() []ghDelivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.lost)
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
