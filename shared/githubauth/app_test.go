package githubauth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"
)

// fakeGitHub is an httptest GitHub that issues installation tokens under
// /api-v3/ (to catch absolute-URL bugs) after verifying the App JWT with
// the App's public key.
type fakeGitHub struct {
	t       *testing.T
	pub     *rsa.PublicKey
	appID   string
	install int64
	now     func() time.Time

	mu       sync.Mutex
	issued   int
	claims   []jwt.RegisteredClaims
	apiCalls []string // Authorization headers seen on the REST API
}

func (f *fakeGitHub) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(fmt.Sprintf("POST /api-v3/app/installations/%d/access_tokens", f.install), func(w http.ResponseWriter, r *http.Request) {
		raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		var claims jwt.RegisteredClaims
		tok, err := jwt.ParseWithClaims(raw, &claims, func(*jwt.Token) (any, error) { return f.pub, nil },
			jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(f.appID), jwt.WithTimeFunc(f.now), jwt.WithIssuedAt())
		if !ok || err != nil || !tok.Valid {
			http.Error(w, `{"message":"A JSON web token could not be decoded"}`, http.StatusUnauthorized)
			return
		}
		f.mu.Lock()
		f.issued++
		n := f.issued
		f.claims = append(f.claims, claims)
		f.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]any{"token": fmt.Sprintf("ghs_token%d", n), "expires_at": f.now().Add(time.Hour).UTC()})
	})
	mux.HandleFunc("GET /api-v3/repos/acme/gitops", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.apiCalls = append(f.apiCalls, r.Header.Get("Authorization"))
		f.mu.Unlock()
		_, _ = w.Write([]byte(`{"full_name":"acme/gitops"}`))
	})
	return mux
}

func newKey(t *testing.T) (*rsa.PrivateKey, []byte) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
}

func TestAppToken(t *testing.T) {
	key, keyPEM := newKey(t)
	// The clock both GitHub and the App read, in Unix nanoseconds.
	var clk atomic.Int64
	clk.Store(time.Now().UnixNano())
	now := func() time.Time { return time.Unix(0, clk.Load()) }
	gh := &fakeGitHub{t: t, pub: &key.PublicKey, appID: "4242", install: 77, now: now}
	srv := httptest.NewServer(gh.handler())
	t.Cleanup(srv.Close)
	api := srv.URL + "/api-v3/"
	keyFn := func(context.Context) (*rsa.PrivateKey, error) { return ParseAppKey(keyPEM) }
	app := NewApp(4242, 77, keyFn, WithAPI(api), WithHTTPClient(srv.Client()), WithClock(now))
	ctx := context.Background()

	steps := []struct {
		advance time.Duration
		want    string
		issued  int
	}{
		{0, "ghs_token1", 1},
		{time.Minute, "ghs_token1", 1},                  // cached
		{53 * time.Minute, "ghs_token1", 1},             // 6 min left: still cached
		{2 * time.Minute, "ghs_token2", 2},              // 4 min left: refreshed
		{10 * time.Second, "ghs_token2", 2},             // the new one is cached
		{2 * time.Hour, "ghs_token3", 3},                // long expired
		{55*time.Minute + time.Second, "ghs_token4", 4}, // 4m59s left
	}
	for i, s := range steps {
		clk.Add(int64(s.advance))
		got, err := app.Token(ctx)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		gh.mu.Lock()
		issued := gh.issued
		gh.mu.Unlock()
		if got != s.want || issued != s.issued {
			t.Errorf("step %d: token %q after %d requests, want %q after %d", i, got, issued, s.want, s.issued)
		}
	}

	// The JWT: RS256 (checked by the server), iss = app id, iat 60 s in
	// the past, exp within 10 minutes of iat.
	c := gh.claims[0]
	if c.Issuer != "4242" {
		t.Errorf("iss = %q, want 4242", c.Issuer)
	}
	if life := c.ExpiresAt.Sub(c.IssuedAt.Time); life > 10*time.Minute {
		t.Errorf("JWT lives %v, GitHub allows at most 10 minutes", life)
	}

	// go-github and go-git get the token, and only for GitHub's hosts.
	client, err := NewClient(app, api, srv.Client().Transport)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := client.Repositories.Get(ctx, "acme", "gitops"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"token ghs_token4"}, gh.apiCalls); diff != "" {
		t.Errorf("API Authorization headers (-want +got):\n%s", diff)
	}
	auth := GitAuth(app, GitHost(api))
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, tc := range []struct {
		url  string
		want any
	}{
		{"https://" + host + "/acme/gitops.git", &githttp.BasicAuth{Username: "x-access-token", Password: "ghs_token4"}},
		// Plain http would carry the token in clear.
		{"http://" + host + "/acme/gitops.git", nil},
		{"https://evil.example/" + host + "/acme/gitops.git", nil},
		{"https://gitlab.example.com/acme/gitops.git", nil},
		{"/srv/git/gitops", nil},
	} {
		got, err := auth(ctx, tc.url)
		if err != nil {
			t.Fatal(err)
		}
		var gotAny any
		if got != nil {
			gotAny = got
		}
		if diff := cmp.Diff(tc.want, gotAny); diff != "" {
			t.Errorf("GitAuth(%s) (-want +got):\n%s", tc.url, diff)
		}
	}
}

func TestAppRefused(t *testing.T) {
	key, _ := newKey(t)
	other, _ := newKey(t)
	gh := &fakeGitHub{t: t, pub: &key.PublicKey, appID: "1", install: 2, now: time.Now}
	srv := httptest.NewServer(gh.handler())
	t.Cleanup(srv.Close)
	app := NewApp(1, 2, func(context.Context) (*rsa.PrivateKey, error) { return other, nil }, WithAPI(srv.URL+"/api-v3/"))
	_, err := app.Token(context.Background())
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("Token with the wrong key: %v, want a 401", err)
	}
}

func TestGitHost(t *testing.T) {
	for api, want := range map[string]string{
		"https://api.github.com/":         "github.com",
		"https://ghe.example.com/api/v3/": "ghe.example.com",
	} {
		if got := GitHost(api); got != want {
			t.Errorf("GitHost(%s) = %q, want %q", api, got, want)
		}
	}
}
