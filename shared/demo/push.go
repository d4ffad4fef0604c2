package demo

import (
	"encoding/json"
	"net/url"
	"path/filepath"
	"time"

	"github.com/go-git/go-git/v5/plumbing/object"
)

// PushWebhook returns the body GitHub would send for a push of commit to
// branch of the local repository at dir, named fullName ("owner/name").
func PushWebhook(fullName, dir, branch, before string, commit *object.Commit, changed []string) []byte {
	abs, _ := filepath.Abs(dir)
	u := url.URL{Scheme: "file", Path: abs}
	if before == "" {
		before = "0000000000000000000000000000000000000000"
	}
	c := map[string]any{
		"id":        commit.Hash.String(),
		"tree_id":   commit.TreeHash.String(),
		"distinct":  true,
		"message":   commit.Message,
		"timestamp": commit.Committer.When.UTC().Format(time.RFC3339),
		"url":       u.String() + "/commit/" + commit.Hash.String(),
		"author":    map[string]string{"name": commit.Author.Name, "email": commit.Author.Email, "username": "developer"},
		"committer": map[string]string{"name": commit.Committer.Name, "email": commit.Committer.Email},
		"added":     []string{},
		"removed":   []string{},
		"modified":  changed,
	}
	body := map[string]any{
		"ref":    "refs/heads/" + branch,
		"before": before,
		"after":  commit.Hash.String(),
		"repository": map[string]any{
			"name":      filepath.Base(fullName),
			"full_name": fullName,
			"html_url":  u.String(),
			"clone_url": u.String(),
		},
		"pusher":      map[string]string{"name": "developer", "email": "dev@demo.example"},
		"sender":      map[string]any{"login": "developer", "type": "User"},
		"created":     false,
		"deleted":     false,
		"forced":      false,
		"commits":     []any{c},
		"head_commit": c,
	}
	b, _ := json.MarshalIndent(body, "", "  ")
	return b
}
