package awsenv

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		env   map[string]string
		needs []Need
		want  map[string]string // variable → problem; nil means no error
	}{
		{"nothing set names every variable", nil, []Need{Table, Webhook, Consumer("builds"), GitOps}, map[string]string{
			"CONVEYOR_TABLE":                      "is not set",
			"CONVEYOR_BUILDS_QUEUE_URL":           "is not set",
			"CONVEYOR_BUILDS_DLQ_URL":             "is not set",
			"CONVEYOR_GITHUB_WEBHOOK_SECRET_ARN":  "is not set (or CONVEYOR_GITHUB_WEBHOOK_SECRET for local runs)",
			"CONVEYOR_REGISTRY_WEBHOOK_TOKEN_ARN": "is not set (or CONVEYOR_REGISTRY_WEBHOOK_TOKEN for local runs)",
			"CONVEYOR_GITOPS_REPO":                "is not set",
		}},
		{"invalid values", map[string]string{
			"CONVEYOR_TABLE": "t", "CONVEYOR_BUILDS_QUEUE_URL": "builds", "CONVEYOR_AWS_ENDPOINT": "localhost:4566",
			"CONVEYOR_SECRETS_TTL": "soon", "CONVEYOR_GITHUB_WEBHOOK_SECRET_ARN": "s3cr3t-pasted-by-mistake",
			"CONVEYOR_REGISTRY_WEBHOOK_TOKEN": "tok", "CONVEYOR_MAX_BODY": "7000000",
		}, []Need{Table, Webhook, Sender("builds")}, map[string]string{
			"CONVEYOR_TABLE":                     "a table name has at least 3 characters",
			"CONVEYOR_BUILDS_QUEUE_URL":          "is not an absolute http(s) URL",
			"CONVEYOR_AWS_ENDPOINT":              "is not an absolute http(s) URL",
			"CONVEYOR_SECRETS_TTL":               "is not a non-negative duration such as 30s",
			"CONVEYOR_GITHUB_WEBHOOK_SECRET_ARN": "is not an ARN",
			"CONVEYOR_MAX_BODY":                  "must be between 1 and 6291456 bytes",
		}},
		{"both forms of a secret", map[string]string{
			"CONVEYOR_GITHUB_WEBHOOK_SECRET": "a", "CONVEYOR_GITHUB_WEBHOOK_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:1:secret:x",
			"CONVEYOR_REGISTRY_WEBHOOK_TOKEN": "b",
		}, []Need{Webhook}, map[string]string{
			"CONVEYOR_GITHUB_WEBHOOK_SECRET": "and CONVEYOR_GITHUB_WEBHOOK_SECRET_ARN are both set: keep one",
		}},
		{"forge needs GitHub credentials", map[string]string{"CONVEYOR_GITOPS_REPO": "https://github.com/acme/gitops.git"}, []Need{Forge}, map[string]string{
			"CONVEYOR_GITHUB_APP_ID": "is not set: GitHub App credentials (CONVEYOR_GITHUB_APP_ID, CONVEYOR_GITHUB_INSTALLATION_ID, CONVEYOR_GITHUB_APP_KEY_ARN) are needed to open pull requests",
		}},
		{"incomplete App", map[string]string{"CONVEYOR_GITOPS_REPO": "/srv/gitops", "CONVEYOR_GITHUB_APP_ID": "x"}, []Need{Forge}, map[string]string{
			"CONVEYOR_GITHUB_APP_ID":          "is not a positive integer",
			"CONVEYOR_GITHUB_INSTALLATION_ID": "is not set",
			"CONVEYOR_GITHUB_APP_KEY_ARN":     "is not set (or CONVEYOR_GITHUB_APP_KEY for local runs)",
			"CONVEYOR_GITHUB_REPOSITORY":      "is not set and CONVEYOR_GITOPS_REPO is not an https://HOST/OWNER/REPO URL",
		}},
		{"App and token", map[string]string{"CONVEYOR_GITOPS_REPO": "https://github.com/acme/gitops", "CONVEYOR_GITHUB_APP_ID": "1",
			"CONVEYOR_GITHUB_INSTALLATION_ID": "2", "CONVEYOR_GITHUB_APP_KEY": "pem", "CONVEYOR_GITHUB_TOKEN": "t"}, []Need{Forge}, map[string]string{
			"CONVEYOR_GITHUB_TOKEN": "and CONVEYOR_GITHUB_APP_ID are both set: use the GitHub App or the token",
		}},
		{"complete", map[string]string{"CONVEYOR_GITOPS_REPO": "https://github.com/acme/gitops", "CONVEYOR_GITHUB_APP_ID": "1",
			"CONVEYOR_GITHUB_INSTALLATION_ID": "2", "CONVEYOR_GITHUB_APP_KEY_ARN": "arn:aws:secretsmanager:us-east-1:1:secret:k",
			"CONVEYOR_TABLE": "conveyor", "CONVEYOR_PROMOTIONS_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/1/promotions.fifo",
			"CONVEYOR_PROMOTIONS_DLQ_URL": "https://sqs.us-east-1.amazonaws.com/1/promotions-dlq.fifo"}, []Need{Table, Consumer("promotions"), Forge}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(env(tc.env), tc.needs...)
			var got map[string]string
			var ce *ConfigError
			if errors.As(err, &ce) {
				got = ce.Problems
			} else if err != nil {
				t.Fatalf("Load: %v, want a *ConfigError", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
			if err != nil {
				for _, v := range tc.env {
					if len(v) > 4 && strings.Contains(err.Error(), v) {
						t.Errorf("error %q quotes the value %q", err, v)
					}
				}
			}
		})
	}
}

func TestLoadValues(t *testing.T) {
	c, err := Load(env(map[string]string{
		"CONVEYOR_TABLE": "conveyor", "CONVEYOR_APPROVALS_QUEUE_URL": "http://127.0.0.1:4566/q/approvals",
		"CONVEYOR_APPROVALS_DLQ_URL": "http://127.0.0.1:4566/q/approvals-dlq", "CONVEYOR_GITOPS_REPO": "https://ghe.example.com/acme/gitops.git",
		"CONVEYOR_GITHUB_TOKEN": "t", "CONVEYOR_GITHUB_API_URL": "https://ghe.example.com/api/v3", "CONVEYOR_CONFIG_TTL": "5s",
	}), Table, Consumer("approvals"), Forge)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Table:      "conveyor",
		Queues:     map[string]QueueURLs{"approvals": {URL: "http://127.0.0.1:4566/q/approvals", DeadLetter: "http://127.0.0.1:4566/q/approvals-dlq"}},
		SecretsTTL: defaultSecretsTTL,
		GitOps:     GitOpsConfig{Repo: "https://ghe.example.com/acme/gitops.git", Branch: "main", ConfigTTL: 5 * time.Second},
		Forge:      ForgeConfig{Kind: ForgeGitHub},
		GitHub: GitHubConfig{API: "https://ghe.example.com/api/v3/", Token: PlainSecret("CONVEYOR_GITHUB_TOKEN", "t"),
			Owner: "acme", Repo: "gitops"},
	}
	if diff := cmp.Diff(want, c, cmp.AllowUnexported(Secret{})); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
}
