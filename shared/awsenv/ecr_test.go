package awsenv

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// fakeECR answers GetAuthorizationToken with numbered tokens.
type fakeECR struct {
	mu      sync.Mutex
	calls   []string // regions asked
	expires func() time.Time
	err     error
}

func (f *fakeECR) GetAuthorizationToken(_ context.Context, _ *ecr.GetAuthorizationTokenInput, optFns ...func(*ecr.Options)) (*ecr.GetAuthorizationTokenOutput, error) {
	var o ecr.Options
	for _, fn := range optFns {
		fn(&o)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	f.calls = append(f.calls, o.Region)
	tok := base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("AWS:password%d", len(f.calls))))
	return &ecr.GetAuthorizationTokenOutput{AuthorizationData: []types.AuthorizationData{{
		AuthorizationToken: aws.String(tok), ExpiresAt: aws.Time(f.expires()),
	}}}, nil
}

func TestECRKeychain(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)}
	start := clk.now()
	fake := &fakeECR{expires: func() time.Time { return clk.now().Add(12 * time.Hour) }}
	kc := NewECRKeychain(fake)
	kc.now = clk.now
	ctx := context.Background()

	auth := func(ref string) *authn.AuthConfig {
		t.Helper()
		r, err := name.ParseReference(ref)
		if err != nil {
			t.Fatal(err)
		}
		a, err := authn.Resolve(ctx, Keychain(kc), r.Context())
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := authn.Authorization(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}

	east := "123456789012.dkr.ecr.us-east-1.amazonaws.com/acme/web:1"
	steps := []struct {
		at   time.Duration // since start
		ref  string
		want string
	}{
		{0, east, "password1"},
		{time.Hour, east, "password1"},
		{time.Hour, "123456789012.dkr.ecr.eu-west-1.amazonaws.com/acme/web:1", "password2"},
		{11*time.Hour + 54*time.Minute, east, "password1"}, // 6 min left
		{11*time.Hour + 56*time.Minute, east, "password3"}, // 4 min left: refreshed
	}
	for i, s := range steps {
		clk.mu.Lock()
		clk.t = start.Add(s.at)
		clk.mu.Unlock()
		got := auth(s.ref)
		if got.Username != "AWS" || got.Password != s.want {
			t.Errorf("step %d: %s:%s, want AWS:%s", i, got.Username, got.Password, s.want)
		}
	}
	if diff := cmp.Diff([]string{"us-east-1", "eu-west-1", "us-east-1"}, fake.calls); diff != "" {
		t.Errorf("token requests by region (-want +got):\n%s", diff)
	}

	// Other registries fall through to the default keychain: anonymous
	// here, and no ECR call.
	if got := auth("ghcr.io/acme/web:1"); got.Username != "" || got.Password != "" {
		t.Errorf("ghcr.io got %+v, want anonymous", got)
	}
	if len(fake.calls) != 3 {
		t.Errorf("ECR called for another registry: %v", fake.calls)
	}
}

func TestECRKeychainError(t *testing.T) {
	fake := &fakeECR{err: errors.New("AccessDeniedException"), expires: time.Now}
	r, _ := name.NewRegistry("123456789012.dkr.ecr.us-east-1.amazonaws.com")
	a, err := NewECRKeychain(fake).Resolve(r)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authorization(); err == nil {
		t.Fatal("Authorization succeeded without a token")
	}
}
