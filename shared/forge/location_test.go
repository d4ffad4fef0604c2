package forge

import (
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseLocation(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Location
		wantErr bool
	}{
		{in: "https://github.com/acme/gitops", want: Location{Base: "https://github.com", Host: "github.com", Owner: "acme", Name: "gitops"}},
		{in: "https://github.com/acme/gitops.git/", want: Location{Base: "https://github.com", Host: "github.com", Owner: "acme", Name: "gitops"}},
		{in: "https://git.example.com:8443/git/acme/gitops.git", want: Location{Base: "https://git.example.com:8443/git", Host: "git.example.com:8443", Owner: "acme", Name: "gitops"}},
		{in: "https://example.com/a/b/acme/gitops", want: Location{Base: "https://example.com/a/b", Host: "example.com", Owner: "acme", Name: "gitops"}},
		{in: "http://127.0.0.1:3000/acme/gitops", want: Location{Base: "http://127.0.0.1:3000", Host: "127.0.0.1:3000", Owner: "acme", Name: "gitops"}},
		{in: "https://github.com/acme", wantErr: true},
		{in: "https://github.com/", wantErr: true},
		{in: "ssh://git@github.com/acme/gitops", wantErr: true},
		{in: "/srv/git/gitops", wantErr: true},
		{in: "https://user:pw@git.example.com/acme/gitops", wantErr: true},
		{in: "https://git.example.com/acme/gitops?token=x", wantErr: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseLocation(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseLocation(%q) error = %v, want error %v", tc.in, err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseLocation(%q) (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

func TestSafeForCredentials(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want bool
	}{
		{"https://gitea.example.com/acme/gitops", true},
		{"http://127.0.0.1:3000/acme/gitops", true},
		{"http://[::1]:3000/acme/gitops", true},
		{"http://localhost:3000/acme/gitops", true},
		{"http://gitea.example.com/acme/gitops", false},
		{"http://10.0.0.5/acme/gitops", false},
		{"http://127.0.0.1.example.com/acme/gitops", false},
		{"ftp://127.0.0.1/acme/gitops", false},
		{"file:///srv/git/gitops", false},
	} {
		t.Run(tc.url, func(t *testing.T) {
			u, err := url.Parse(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			if got := SafeForCredentials(u); got != tc.want {
				t.Errorf("SafeForCredentials(%s) = %v, want %v", tc.url, got, tc.want)
			}
		})
	}
}
