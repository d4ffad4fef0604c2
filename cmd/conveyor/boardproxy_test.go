package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// TestSigningProxy stands a server in for the board's function URL and
// checks the proxy signs each read for the lambda service, forwards the
// board's fragment header, copies the policy header back, never passes on
// the viewer's cookies, and refuses writes.
func TestSigningProxy(t *testing.T) {
	var got *http.Request
	fnURL := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Clone(context.Background())
		w.Header().Set("Content-Security-Policy", "default-src 'none'")
		io.WriteString(w, "board "+r.URL.RequestURI())
	}))
	defer fnURL.Close()
	target, _ := url.Parse(fnURL.URL + "/")
	creds := credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret-key-never-sent", "")
	proxy := httptest.NewServer(signingProxy(target, aws.CredentialsProvider(creds), "eu-west-1"))
	defer proxy.Close()

	req, _ := http.NewRequest(http.MethodGet, proxy.URL+"/apps/web?x=1", nil)
	req.Header.Set("X-Board-Fragment", "1")
	req.Header.Set("Cookie", "session=viewer")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "board /apps/web?x=1" || resp.Header.Get("Content-Security-Policy") != "default-src 'none'" {
		t.Errorf("proxied answer %q with headers %v", body, resp.Header)
	}
	auth := got.Header.Get("Authorization")
	for _, want := range []string{"AWS4-HMAC-SHA256", "Credential=AKIDEXAMPLE/", "/eu-west-1/lambda/aws4_request", "SignedHeaders="} {
		if !strings.Contains(auth, want) {
			t.Errorf("Authorization %q lacks %q", auth, want)
		}
	}
	if strings.Contains(auth, "secret-key-never-sent") || got.Header.Get("X-Board-Fragment") != "1" || got.Header.Get("Cookie") != "" {
		t.Errorf("forwarded headers %v", got.Header)
	}

	post, err := http.Post(proxy.URL+"/", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	post.Body.Close()
	if post.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST through the proxy: %d, want 405", post.StatusCode)
	}
}
