package awsenv

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/google/go-containerregistry/pkg/authn"
)

// ecrAPI is the part of *ecr.Client the keychain uses.
type ecrAPI interface {
	GetAuthorizationToken(ctx context.Context, params *ecr.GetAuthorizationTokenInput, optFns ...func(*ecr.Options)) (*ecr.GetAuthorizationTokenOutput, error)
}

var _ ecrAPI = (*ecr.Client)(nil)

// ecrHost matches private ECR registries and captures their region:
// 123456789012.dkr.ecr.us-east-1.amazonaws.com (also -fips and .com.cn).
var ecrHost = regexp.MustCompile(`^[0-9]{12}\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$`)

// refreshMargin is how long before expiry a token is replaced: long
// enough that a push started with it does not outlive it.
const refreshMargin = 5 * time.Minute

// ecrTimeout bounds one GetAuthorizationToken call.
const ecrTimeout = 10 * time.Second

// ECRKeychain authenticates to private ECR registries with tokens from
// GetAuthorizationToken, cached per region until five minutes before they
// expire. Other registries resolve to authn.Anonymous, so that in
// Keychain's multi-keychain they fall through to authn.DefaultKeychain.
type ECRKeychain struct {
	api ecrAPI
	now func() time.Time

	mu     sync.Mutex
	tokens map[string]ecrToken // by region
}

type ecrToken struct {
	user, password string
	expires        time.Time
}

// NewECRKeychain returns a keychain over client, an *ecr.Client.
func NewECRKeychain(client ecrAPI) *ECRKeychain {
	return &ECRKeychain{api: client, now: time.Now, tokens: map[string]ecrToken{}}
}

// Keychain is the keychain functions use: ECR first, then the default
// keychain (Docker config, for other registries).
func Keychain(ecrKeychain *ECRKeychain) authn.Keychain {
	return authn.NewMultiKeychain(ecrKeychain, authn.DefaultKeychain)
}

var (
	_ authn.ContextKeychain      = (*ECRKeychain)(nil)
	_ authn.ContextAuthenticator = ecrAuthenticator{}
)

// Resolve implements authn.Keychain.
func (k *ECRKeychain) Resolve(target authn.Resource) (authn.Authenticator, error) {
	return k.ResolveContext(context.Background(), target)
}

// ResolveContext implements authn.ContextKeychain. No token is fetched
// until the registry asks for credentials.
func (k *ECRKeychain) ResolveContext(_ context.Context, target authn.Resource) (authn.Authenticator, error) {
	m := ecrHost.FindStringSubmatch(target.RegistryStr())
	if m == nil {
		return authn.Anonymous, nil
	}
	return ecrAuthenticator{k: k, region: m[1]}, nil
}

type ecrAuthenticator struct {
	k      *ECRKeychain
	region string
}

func (a ecrAuthenticator) Authorization() (*authn.AuthConfig, error) {
	return a.AuthorizationContext(context.Background())
}

func (a ecrAuthenticator) AuthorizationContext(ctx context.Context) (*authn.AuthConfig, error) {
	t, err := a.k.token(ctx, a.region)
	if err != nil {
		return nil, err
	}
	return &authn.AuthConfig{Username: t.user, Password: t.password}, nil
}

func (k *ECRKeychain) token(ctx context.Context, region string) (ecrToken, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if t, ok := k.tokens[region]; ok && k.now().Add(refreshMargin).Before(t.expires) {
		return t, nil
	}
	ctx, cancel := context.WithTimeout(ctx, ecrTimeout)
	defer cancel()
	out, err := k.api.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{}, func(o *ecr.Options) { o.Region = region })
	if err != nil {
		return ecrToken{}, fmt.Errorf("getting an ECR token in %s: %w", region, err)
	}
	if len(out.AuthorizationData) == 0 || out.AuthorizationData[0].AuthorizationToken == nil {
		return ecrToken{}, fmt.Errorf("getting an ECR token in %s: %w", region, errNoECRToken)
	}
	d := out.AuthorizationData[0]
	raw, err := base64.StdEncoding.DecodeString(*d.AuthorizationToken)
	if err != nil {
		return ecrToken{}, fmt.Errorf("decoding the ECR token of %s: %w", region, errNoECRToken)
	}
	user, password, ok := strings.Cut(string(raw), ":")
	if !ok {
		return ecrToken{}, fmt.Errorf("decoding the ECR token of %s: %w", region, errNoECRToken)
	}
	t := ecrToken{user: user, password: password, expires: k.now().Add(12 * time.Hour)}
	if d.ExpiresAt != nil {
		t.expires = *d.ExpiresAt
	}
	k.tokens[region] = t
	return t, nil
}

// errNoECRToken means GetAuthorizationToken answered without a usable
// token; the token itself is never quoted.
var errNoECRToken = errors.New("no user:password token in the answer")
