package giteaforge

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/transport/client"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"

	"github.com/conveyor-gitops/conveyor/shared/source"
)

// authRecorder is a git server that records only the Authorization
// header of each request.
type authRecorder struct {
	mu   sync.Mutex
	auth []string
}

func (r *authRecorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	if a := req.Header.Get("Authorization"); a != "" {
		r.auth = append(r.auth, a)
	}
	r.mu.Unlock()
	http.NotFound(w, req)
}

func (r *authRecorder) sent() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.auth...)
}

// TestGitAuthSendsTheTokenOnlyToTheForgeHost clones from real servers with
// the credentials GitAuth gives and checks what each received; hosts no
// server can stand for (a non-loopback http host) must get no credentials
// at all. go-git's protocol table is global: no t.Parallel.
func TestGitAuthSendsTheTokenOnlyToTheForgeHost(t *testing.T) {
	const token = "gitea_s3cret_token"
	own, other, plain := &authRecorder{}, &authRecorder{}, &authRecorder{}
	ownSrv, otherSrv, plainSrv := httptest.NewTLSServer(own), httptest.NewTLSServer(other), httptest.NewServer(plain)
	for _, s := range []*httptest.Server{ownSrv, otherSrv, plainSrv} {
		t.Cleanup(s.Close)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ownSrv.Certificate())
	pool.AddCert(otherSrv.Certificate())
	client.InstallProtocol("https", githttp.NewClient(&http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}))
	t.Cleanup(func() { client.InstallProtocol("https", githttp.DefaultClient) })
	static := func(context.Context) (string, error) { return token, nil }
	plainLocalhost := strings.Replace(plainSrv.URL, "127.0.0.1", "localhost", 1)

	for _, tc := range []struct {
		name  string
		base  string // the forge's base URL
		token func(context.Context) (string, error)
		url   string
		rec   *authRecorder // nil: no server; GitAuth must give nothing
		want  bool
	}{
		{"its host over https", ownSrv.URL, static, ownSrv.URL + "/acme/gitops.git", own, true},
		{"its host under a sub-path", ownSrv.URL + "/git", static, ownSrv.URL + "/git/acme/gitops.git", own, true},
		{"another https host", ownSrv.URL, static, otherSrv.URL + "/acme/gitops.git", other, false},
		{"loopback over plain http", plainSrv.URL, static, plainSrv.URL + "/acme/gitops.git", plain, true},
		{"loopback by another name", plainSrv.URL, static, plainLocalhost + "/acme/gitops.git", plain, false},
		{"https forge, same host over http", "https://" + strings.TrimPrefix(plainSrv.URL, "http://"), static, plainSrv.URL + "/acme/gitops.git", plain, false},
		{"no token", ownSrv.URL, nil, ownSrv.URL + "/acme/gitops.git", own, false},
		{"empty token", ownSrv.URL, func(context.Context) (string, error) { return "", nil }, ownSrv.URL + "/acme/gitops.git", own, false},
		{"non-loopback forge over plain http", "http://gitea.example.com", static, "http://gitea.example.com/acme/gitops.git", nil, false},
		{"non-loopback host over plain http", "https://gitea.example.com", static, "http://gitea.example.com/acme/gitops.git", nil, false},
		{"github.com", "https://gitea.example.com", static, "https://github.com/acme/gitops.git", nil, false},
		{"a local path", "https://gitea.example.com", static, "/srv/git/gitops", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			auth, err := GitAuth(tc.base, tc.token)(context.Background(), tc.url)
			if err != nil {
				t.Fatal(err)
			}
			if tc.rec == nil {
				if auth != nil {
					t.Fatalf("GitAuth(%s) gave credentials for %s", tc.base, tc.url)
				}
				return
			}
			before := len(tc.rec.sent())
			if _, err := source.Checkout(context.Background(), tc.url, "main", strings.Repeat("a", 40), filepath.Join(t.TempDir(), "c"), auth); err == nil {
				t.Fatal("cloning from a server that has no repository succeeded")
			}
			got := tc.rec.sent()[before:]
			if sent := len(got) > 0; sent != tc.want {
				t.Fatalf("server received credentials %q, want sent=%v", got, tc.want)
			}
			if tc.want && auth.(*githttp.BasicAuth).Username != GitUser {
				t.Errorf("user = %q, want %q", auth.(*githttp.BasicAuth).Username, GitUser)
			}
		})
	}
}
