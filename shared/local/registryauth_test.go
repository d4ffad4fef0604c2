package local_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"testing"

	"github.com/conveyor-gitops/conveyor/shared/local"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// TestRegistryBeyondLoopbackNeedsCredentials: the embedded registry takes
// anonymous pushes only when nothing but this machine reaches it; listening
// on every interface it requires the push password (generated when none is
// given), which the runtime's own builds present.
func TestRegistryBeyondLoopbackNeedsCredentials(t *testing.T) {
	for _, tc := range []struct {
		name, addr, password string
		anonymous, generated bool
	}{
		{name: "loopback", addr: "127.0.0.1:0", anonymous: true},
		{name: "every interface, generated password", addr: "0.0.0.0:0", generated: true},
		{name: "every interface, given password", addr: ":0", password: "from-the-environment"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			rt, err := local.Open(ctx, local.Options{DataDir: t.TempDir(), RegistryAddr: tc.addr, RegistryPassword: tc.password})
			if err != nil {
				t.Fatal(err)
			}
			defer rt.Close()
			a, err := rt.ListenRegistry()
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- rt.Run(ctx) }()
			defer func() { cancel(); <-done }()

			pw, generated := rt.RegistryPassword()
			switch {
			case tc.anonymous && pw != "":
				t.Fatal("a loopback registry requires a password")
			case !tc.anonymous && (pw == "" || generated != tc.generated || (tc.password != "" && pw != tc.password)):
				t.Fatalf("password %q generated %v, want given %q / generated %v", pw, generated, tc.password, tc.generated)
			}
			_, port, _ := net.SplitHostPort(a.String())
			ref, _ := name.ParseReference("127.0.0.1:"+port+"/demo/web:sha-1", name.Insecure)
			img, _ := random.Image(128, 1)
			err = remote.Write(ref, img, remote.WithAuth(authn.Anonymous))
			var terr *transport.Error
			if tc.anonymous && err != nil {
				t.Fatalf("anonymous push on loopback: %v", err)
			}
			if !tc.anonymous && (!errors.As(err, &terr) || terr.StatusCode != http.StatusUnauthorized) {
				t.Fatalf("anonymous push beyond loopback: %v, want 401", err)
			}
			if err := remote.Write(ref, img, remote.WithAuthFromKeychain(rt.RegistryKeychain())); err != nil {
				t.Fatalf("push with the runtime's keychain: %v", err)
			}
			other, _ := name.ParseReference("registry.example.com/demo/web:sha-1")
			auth, err := rt.RegistryKeychain().Resolve(other.Context())
			if err != nil {
				t.Fatal(err)
			}
			if c, _ := auth.Authorization(); pw != "" && c != nil && c.Password == pw {
				t.Fatal("the push password is offered to another registry")
			}
		})
	}
}
