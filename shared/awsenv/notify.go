package awsenv

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/conveyor-gitops/conveyor/shared/notify"
)

// VarNotifySecrets holds a JSON object of the values notification
// receivers name in conveyor.yaml (secretEnv, slackEnv), by name:
// {"HOOK_KEY": "…", "SLACK_URL": "https://hooks.slack.com/…"}. On AWS it
// is a Secrets Manager secret (CONVEYOR_NOTIFY_SECRETS_ARN).
const VarNotifySecrets = "CONVEYOR_NOTIFY_SECRETS"

// NotifySecrets accepts the secret of the notification receivers' signing
// keys and Slack URLs; without it they are read from the environment.
func NotifySecrets(r *reader, c *Config) {
	c.NotifySecrets = r.secret(VarNotifySecrets, false)
}

// NotifySecret reads a receiver's secret by name from the NotifySecrets
// secret, through the secret cache (one GetSecretValue per TTL); nil when
// no such secret is configured. A name the secret lacks is
// notify.ErrSecretUnset; a secret that is not a JSON object is retried,
// so that a fixed secret takes over within the cache's TTL.
func (e *Env) NotifySecret() func(ctx context.Context, name string) (string, error) {
	sec := e.Config.NotifySecrets
	if !sec.Set() {
		return nil
	}
	return func(ctx context.Context, name string) (string, error) {
		raw, err := e.Secret(ctx, sec)
		if err != nil {
			return "", err
		}
		var values map[string]string
		if err := json.Unmarshal(raw, &values); err != nil {
			// Not wrapped: a JSON error quotes the text, a secret.
			return "", fmt.Errorf("reading %s: not a JSON object of strings", sec)
		}
		v, ok := values[name]
		if !ok || v == "" {
			return "", notify.ErrSecretUnset
		}
		return v, nil
	}
}
