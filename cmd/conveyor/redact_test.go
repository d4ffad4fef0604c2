package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestErrorsHideURLCredentials runs commands against a GitOps URL carrying
// credentials that cannot be reached: what they print names the URL
// without them.
func TestErrorsHideURLCredentials(t *testing.T) {
	const gitops = "https://user:s3cret@127.0.0.1:1/gitops.git"
	for _, args := range [][]string{
		{"promote", "--data-dir", t.TempDir(), "--gitops", gitops, "web", "dev", "registry.test/web@sha256:" + strings.Repeat("a", 64)},
		{"rollback", "--data-dir", t.TempDir(), "--gitops", gitops, "web", "dev"},
	} {
		t.Run(args[0], func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), args, &out, &errb)
			printed := out.String() + errb.String()
			if code == 0 {
				t.Fatalf("%v succeeded against a closed port: %s", args, printed)
			}
			if strings.Contains(printed, "s3cret") || !strings.Contains(printed, "127.0.0.1:1") {
				t.Fatalf("%v printed the credentials or no URL: %s", args, printed)

			}
		})
	}
}
