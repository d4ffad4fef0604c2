package awsenv

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// fakeSecrets counts GetSecretValue calls.
type fakeSecrets struct {
	calls int
	value string
}

func (f *fakeSecrets) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	f.calls++
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(f.value + "@" + aws.ToString(in.SecretId))}, nil
}

func TestSecretsCache(t *testing.T) {
	clk := &clock{t: time.Now()}
	fake := &fakeSecrets{value: "v1"}
	s := NewSecrets(fake, 15*time.Minute)
	s.now = clk.now
	ctx := context.Background()
	arn := Secret{Name: VarWebhookSecret, ARN: "arn:aws:secretsmanager:us-east-1:1:secret:w"}
	get := func() string {
		t.Helper()
		v, err := s.Get(ctx, arn)
		if err != nil {
			t.Fatal(err)
		}
		return string(v)
	}
	get()
	clk.add(10 * time.Minute)
	fake.value = "v2"
	if got := get(); got != "v1@"+arn.ARN || fake.calls != 1 {
		t.Errorf("within the TTL: %q after %d calls, want the cached v1 after 1", got, fake.calls)
	}
	clk.add(6 * time.Minute)
	if got := get(); got != "v2@"+arn.ARN || fake.calls != 2 {
		t.Errorf("after the TTL: %q after %d calls, want v2 after 2", got, fake.calls)
	}
	if v, err := s.Get(ctx, PlainSecret(VarRegistryToken, "plain")); err != nil || string(v) != "plain" || fake.calls != 2 {
		t.Errorf("plain secret: %q, %v after %d calls", v, err, fake.calls)
	}
	if fmt.Sprint(PlainSecret(VarRegistryToken, "plain")) != VarRegistryToken {
		t.Errorf("a Secret prints its value")
	}
}
