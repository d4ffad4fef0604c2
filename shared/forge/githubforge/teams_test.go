package githubforge_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/conveyor-gitops/conveyor/shared/forge/githubforge"
	"github.com/google/go-github/v60/github"
)

func TestIsTeamMember(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api-v3/orgs/acme/teams/sre/memberships/carol":
			fmt.Fprint(w, `{"url":"https://api.github.com/teams/1/memberships/carol","role":"member","state":"active"}`)
		case "/api-v3/orgs/acme/teams/sre/memberships/erin":
			fmt.Fprint(w, `{"url":"https://api.github.com/teams/1/memberships/erin","role":"member","state":"pending"}`)
		case "/api-v3/orgs/acme/teams/sre/memberships/boom":
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprint(w, `{"message":"Server Error"}`)
		default:
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"message":"Not Found","documentation_url":"https://docs.github.com/rest"}`)
		}
	}))
	defer srv.Close()
	c := github.NewClient(nil)
	c.BaseURL, _ = url.Parse(srv.URL + "/api-v3/")
	f := githubforge.New(c, "acme", "gitops")
	for _, tc := range []struct {
		user    string
		want    bool
		wantErr bool
	}{
		{"carol", true, false},
		{"erin", false, false}, // an invitation is not a membership
		{"dave", false, false},
		{"boom", false, true},
	} {
		got, err := f.IsTeamMember(context.Background(), "acme", "sre", tc.user)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("IsTeamMember(%s) = %v, %v; want %v, error %v", tc.user, got, err, tc.want, tc.wantErr)
		}
	}
}
