package config

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseNotify(t *testing.T) {
	in := head + `    notify:
      - {webhook: "https://hooks.example.com/conveyor", secretEnv: HOOK_SECRET}
    environments:
      - name: prod
        path: envs/prod
        reviewers: [alice]
        notify:
          - {slackEnv: SLACK_URL, events: [waiting, merged]}
          - prComment: true
`
	c, err := Parse("conveyor.yaml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	a := &c.Apps[0]
	got := a.Receivers(&a.Environments[0])
	for i := range got {
		got[i].Pos = Pos{}
	}
	want := []Notify{
		{Webhook: "https://hooks.example.com/conveyor", SecretEnv: "HOOK_SECRET"},
		{SlackEnv: "SLACK_URL", Events: []string{"waiting", "merged"}},
		{PRComment: true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("receivers (-want +got):\n%s", diff)
	}
	if got[1].Wants(NotifyOpened) || !got[1].Wants(NotifyMerged) || !got[0].Wants(NotifyRefused) {
		t.Errorf("Wants: the events filter is not applied")
	}
}

func TestParseNotifyErrors(t *testing.T) {
	env := "    environments: [{name: dev, path: envs/dev, release: auto}]\n"
	for _, tc := range []struct {
		name, notify string
		want         []string
	}{
		{
			name:   "inline secret",
			notify: "    notify:\n      - {webhook: \"https://h.example.com/x\", secretEnv: \"s3cr3t-value!\"}\n",
			want:   []string{`conveyor.yaml:8:57: apps[0].notify[0].secretEnv: must name an environment variable (letters, digits, _), not hold the secret itself`},
		},
		{
			name:   "webhook without secret, over plain http",
			notify: "    notify:\n      - webhook: \"http://hooks.example.com/x\"\n",
			want: []string{
				`conveyor.yaml:8:9: apps[0].notify[0]: a webhook needs secretEnv: the name of the environment variable holding its signing key`,
				`conveyor.yaml:8:18: apps[0].notify[0].webhook: must be https (http only to a loopback host)`,
			},
		},
		{
			name:   "two kinds and an unknown event",
			notify: "    notify:\n      - {slackEnv: SLACK, webhook: \"https://h.example.com/\", secretEnv: K, events: [merged, exploded]}\n",
			want: []string{
				`conveyor.yaml:8:9: apps[0].notify[0]: set exactly one of webhook, slackEnv or prComment`,
				`conveyor.yaml:8:93: apps[0].notify[0].events[1]: unknown event "exploded": must be one of opened, updated, waiting, merged, deferred, refused, dead_lettered`,
			},
		},
		{
			name:   "secretEnv without webhook",
			notify: "    notify:\n      - {slackEnv: SLACK, secretEnv: KEY}\n",
			want:   []string{`conveyor.yaml:8:38: apps[0].notify[0].secretEnv: only allowed with webhook`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("conveyor.yaml", []byte(head+env+tc.notify))
			if err == nil {
				t.Fatal("Parse accepted it")
			}
			got := strings.Split(err.Error(), "\n")
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("the error echoes the inline secret: %v", err)
			}
		})
	}
}
