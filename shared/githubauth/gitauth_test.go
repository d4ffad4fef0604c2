package githubauth

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

	"github.com/conveyor-gitops/conveyor/shared/source"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
)

// recorder is a git server that only records the Authorization header of
// each request it gets.
type recorder struct {
	mu   sync.Mutex
	auth []string
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.auth = append(r.auth, req.Header.Get("Authorization"))
	r.mu.Unlock()
	http.NotFound(w, req)
}

func (r *recorder) sent() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, a := range r.auth {
		if a != "" {
			out = append(out, a)
		}
	}
	return out
}

// TestGitAuthSendsTheTokenOnlyToItsHostOverHTTPS clones from real servers
// with the credentials GitAuth gives and checks what each one received.
// go-git's protocol table is global: no t.Parallel.
func TestGitAuthSendsTheTokenOnlyToItsHostOverHTTPS(t *testing.T) {
	const token = "ghs_s3cret_token"
	own, other, plain := &recorder{}, &recorder{}, &recorder{}
	ownSrv, otherSrv, plainSrv := httptest.NewTLSServer(own), httptest.NewTLSServer(other), httptest.NewServer(plain)
	for _, s := range []*httptest.Server{ownSrv, otherSrv, plainSrv} {
		t.Cleanup(s.Close)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ownSrv.Certificate())
	pool.AddCert(otherSrv.Certificate())
	client.InstallProtocol("https", githttp.NewClient(&http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}))
	t.Cleanup(func() { client.InstallProtocol("https", githttp.DefaultClient) })

	ownHost := strings.TrimPrefix(ownSrv.URL, "https://")
	plainHost := strings.TrimPrefix(plainSrv.URL, "http://")
	for _, tc := range []struct {
		name      string
		tokenHost string // the host the token belongs to
		tokens    TokenSource
		url       string
		rec       *recorder
		want      bool
	}{
		{"its host over https", ownHost, StaticToken(token), ownSrv.URL + "/acme/web.git", own, true},
		{"another host", ownHost, StaticToken(token), otherSrv.URL + "/acme/web.git", other, false},
		{"github.com", "github.com", StaticToken(token), otherSrv.URL + "/acme/web.git", other, false},
		{"no host", "", StaticToken(token), otherSrv.URL + "/acme/web.git", other, false},
		{"its host over plain http", plainHost, StaticToken(token), plainSrv.URL + "/acme/web.git", plain, false},
		{"no token", ownHost, EnvToken("CONVEYOR_TEST_UNSET_TOKEN"), ownSrv.URL + "/acme/web.git", own, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(tc.rec.sent())
			auth, err := GitAuth(tc.tokens, tc.tokenHost)(context.Background(), tc.url)
			if err != nil {
				t.Fatal(err)
			}
			_, err = source.Checkout(context.Background(), tc.url, "main", strings.Repeat("a", 40), filepath.Join(t.TempDir(), "c"), auth)
			if err == nil {
				t.Fatal("cloning from a server that has no repository succeeded")
			}
			got := tc.rec.sent()[before:]
			if sent := len(got) > 0; sent != tc.want {
				t.Fatalf("server received credentials %q, want sent=%v", got, tc.want)
			}
		})
	}
}
