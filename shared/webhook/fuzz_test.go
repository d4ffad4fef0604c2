package webhook

import (
	"errors"
	"os"
	"testing"
)

func FuzzVerifySignature(f *testing.F) {
	f.Add([]byte("It's a Secret to Everybody"), "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", []byte("Hello, World!"))
	f.Add([]byte("k"), "sha256=zz", []byte(""))
	f.Fuzz(func(t *testing.T, secret []byte, header string, body []byte) {
		err := VerifySignature(secret, header, body)
		if err == nil && (len(secret) == 0 || header != SignatureHeader(secret, body) && !equalFoldHex(header, SignatureHeader(secret, body))) {
			t.Fatalf("accepted signature %q for body %q", header, body)
		}
		if len(secret) > 0 {
			if err := VerifySignature(secret, SignatureHeader(secret, body), body); err != nil {
				t.Fatalf("own signature refused: %v", err)
			}
		}
	})
}

func equalFoldHex(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'F' {
			x += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func FuzzClassifyGitHub(f *testing.F) {
	for _, s := range []struct{ name, file string }{
		{"push", "github-push.json"}, {"push", "github-push-branch-deleted.json"}, {"pull_request", "github-pull_request-merged.json"},
		{"pull_request_review", "github-pull_request_review-approved.json"}, {"ping", "github-ping.json"}, {"issues", "github-issues-opened.json"},
		{"registry_package", "github-registry_package-published.json"},
		{"push", "gitea-push.json"}, {"pull_request_approved", "gitea-pull_request_approved.json"},
	} {
		b, err := os.ReadFile("../../events/" + s.file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(s.name, b)
	}
	f.Fuzz(func(t *testing.T, name string, body []byte) {
		// Gitea's dialect shares the parsers but not the commit cap.
		for _, classify := range []func(string, []byte) (Classification, error){ClassifyGitHub, ClassifyGitea} {
			checkClassification(t, classify, name, body)
		}
	})
}

func FuzzClassifyGitLab(f *testing.F) {
	for _, s := range []struct{ name, file string }{
		{"Push Hook", "gitlab-push.json"}, {"Merge Request Hook", "gitlab-merge_request-approved.json"},
		{"Merge Request Hook", "gitlab-merge_request-merged.json"}, {"Tag Push Hook", "gitlab-push.json"},
		{"Note Hook", "github-issues-opened.json"},
	} {
		b, err := os.ReadFile("../../events/" + s.file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(s.name, b)
	}
	f.Fuzz(func(t *testing.T, name string, body []byte) {
		checkClassification(t, ClassifyGitLab, name, body)
		if c, err := ClassifyGitLab(name, body); err == nil && c.Pong {
			t.Fatal("GitLab has no ping")
		}
	})
}

func checkClassification(t *testing.T, classify func(string, []byte) (Classification, error), name string, body []byte) {
	t.Helper()
	c, err := classify(name, body)
	if err != nil {
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("error not marked malformed: %v", err)
		}
		return
	}
	n := 0
	for _, set := range []bool{c.Pong, c.Ignore != "", c.Kind != ""} {
		if set {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("classification %+v is not exactly one of pong, ignore, enqueue", c)
	}
	if c.Kind != "" && c.Payload == nil {
		t.Fatal("enqueue without a payload")
	}
}

func FuzzParseRegistry(f *testing.F) {
	for _, file := range []string{"distribution-push.json", "distribution-delete.json", "harbor-push.json", "harbor-cloudevents-push.json"} {
		b, err := os.ReadFile("../../events/" + file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, parse := range []func([]byte) ([]ImageEvent, int, error){ParseDistribution, ParseHarbor} {
			evs, _, err := parse(body)
			if err != nil {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("error not marked malformed: %v", err)
				}
				continue
			}
			for _, e := range evs {
				if e.Key == "" || e.Image.Repository == "" || len(e.Image.Digest) < 8 || e.Image.Digest[:7] != "sha256:" {
					t.Fatalf("incomplete image event %+v", e)
				}
			}
		}
	})
}
