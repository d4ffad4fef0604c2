package ociregistry_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/conveyor-gitops/conveyor/shared/ociregistry"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// TestPushesNeedCredentials: with a push password, every write needs it
// (an anonymous or wrong one is refused and notifies nothing) while reads
// stay anonymous; without one, pushes need nothing (the loopback default,
// as TestPushNotifiesAndSurvivesRestart shows).
func TestPushesNeedCredentials(t *testing.T) {
	box := &inbox{}
	reg, err := ociregistry.Open(t.TempDir(), box.notify, nil, ociregistry.WithPushPassword("s3cret-pass"))
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	srv := httptest.NewServer(reg)
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(host+"/demo/web:sha-1", name.Insecure)
	for _, tc := range []struct {
		name string
		auth authn.Authenticator
	}{
		{"anonymous", authn.Anonymous},
		{"wrong password", &authn.Basic{Username: ociregistry.PushUser, Password: "guess"}},
		{"wrong user", &authn.Basic{Username: "admin", Password: "s3cret-pass"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := remote.Write(ref, img, remote.WithAuth(tc.auth))
			var terr *transport.Error
			if !errors.As(err, &terr) || terr.StatusCode != http.StatusUnauthorized {
				t.Fatalf("push = %v, want 401", err)
			}
		})
	}
	if len(box.bodies) != 0 {
		t.Fatalf("%d notifications for refused pushes", len(box.bodies))
	}
	// A manifest PUT alone (blobs aside) is refused too.
	req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/v2/demo/web/manifests/sha-1", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous DELETE: %v %v, want 401", resp.StatusCode, err)
	}
	if err := remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: ociregistry.PushUser, Password: "s3cret-pass"})); err != nil {
		t.Fatalf("push with the credentials: %v", err)
	}
	if len(box.bodies) != 1 {
		t.Fatalf("%d notifications, want one for the authorised push", len(box.bodies))
	}
	back, err := remote.Image(ref)
	if err != nil {
		t.Fatalf("anonymous pull: %v", err)
	}
	if _, err := back.RawConfigFile(); err != nil {
		t.Fatalf("anonymous blob read: %v", err)
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:5000": true, "127.3.4.5:5000": true, "[::1]:5000": true, "localhost:5000": true, "LOCALHOST:0": true,
		"0.0.0.0:5000": false, ":5000": false, "[::]:5000": false, "192.168.1.10:5000": false, "myhost:5000": false,
	} {
		if got := ociregistry.IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}
