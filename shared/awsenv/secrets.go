package awsenv

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// Secret is a secret's location: a Secrets Manager ARN, or a plain value
// for local runs. It prints and logs as its variable name only.
type Secret struct {
	// Name is the variable that holds it, without _ARN.
	Name string
	// ARN is the Secrets Manager secret, when the value is not plain.
	ARN   string
	value string
}

// PlainSecret returns a secret given by value (tests, local runs).
func PlainSecret(name, value string) Secret { return Secret{Name: name, value: value} }

// Set reports whether the secret is configured at all.
func (s Secret) Set() bool { return s.ARN != "" || s.value != "" }

// String names the secret without its value.
func (s Secret) String() string {
	if s.ARN != "" {
		return s.Name + " (" + s.ARN + ")"
	}
	return s.Name
}

// LogValue keeps the value out of structured logs.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// secretsAPI is the part of *secretsmanager.Client Secrets uses.
type secretsAPI interface {
	GetSecretValue(ctx context.Context, params *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

var _ secretsAPI = (*secretsmanager.Client)(nil)

// secretTimeout bounds one Secrets Manager call.
const secretTimeout = 10 * time.Second

// Secrets fetches secrets from Secrets Manager and keeps each for a TTL, so
// a warm container fetches once per TTL, not once per invocation. Safe for
// concurrent use.
type Secrets struct {
	api secretsAPI
	ttl time.Duration
	now func() time.Time

	mu    sync.Mutex
	cache map[string]cachedSecret
}

type cachedSecret struct {
	value   []byte
	fetched time.Time
}

// NewSecrets returns a cache over client (a *secretsmanager.Client; nil
// when only plain secrets are used). A ttl of 0 keeps values for the
// container's life.
func NewSecrets(client secretsAPI, ttl time.Duration) *Secrets {
	return &Secrets{api: client, ttl: ttl, now: time.Now, cache: map[string]cachedSecret{}}
}

// errNoSecretsClient means an ARN was configured without a client to read it.
var errNoSecretsClient = errors.New("no Secrets Manager client")

// Get returns the secret's value: the plain value, or the cached or freshly
// fetched SecretString (SecretBinary when there is no string).
func (s *Secrets) Get(ctx context.Context, sec Secret) ([]byte, error) {
	switch {
	case sec.value != "":
		return []byte(sec.value), nil
	case sec.ARN == "":
		return nil, fmt.Errorf("reading %s: %w", sec.Name, ErrNotConfigured)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.cache[sec.ARN]; ok && (s.ttl == 0 || s.now().Sub(c.fetched) < s.ttl) {
		return c.value, nil
	}
	if s.api == nil {
		return nil, fmt.Errorf("reading %s: %w", sec, errNoSecretsClient)
	}
	ctx, cancel := context.WithTimeout(ctx, secretTimeout)
	defer cancel()
	out, err := s.api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(sec.ARN)})
	if err != nil {
		if c, ok := s.cache[sec.ARN]; ok {
			// A stale value beats failing every invocation while Secrets
			// Manager is unreachable; rotation keeps the old version valid
			// for a while.
			return c.value, nil
		}
		return nil, fmt.Errorf("reading %s: %w", sec, err)
	}
	var v []byte
	switch {
	case out.SecretString != nil:
		v = []byte(*out.SecretString)
	case out.SecretBinary != nil:
		v = out.SecretBinary
	}
	if len(v) == 0 {
		return nil, fmt.Errorf("reading %s: the secret is empty", sec)
	}
	s.cache[sec.ARN] = cachedSecret{value: v, fetched: s.now()}
	return v, nil
}
