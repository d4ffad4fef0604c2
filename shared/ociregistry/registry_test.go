package ociregistry_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/conveyor-gitops/conveyor/shared/ociregistry"
	"github.com/conveyor-gitops/conveyor/shared/webhook"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

type inbox struct {
	mu     sync.Mutex
	bodies [][]byte
	types  []string
}

func (b *inbox) notify(_ context.Context, ct string, body []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.bodies = append(b.bodies, body)
	b.types = append(b.types, ct)
	return nil
}

func TestPushNotifiesAndSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	box := &inbox{}
	reg, err := ociregistry.Open(dir, box.notify, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(reg)
	host := strings.TrimPrefix(srv.URL, "http://")
	img, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(host+"/demo/web:sha-0123456789ab", name.Insecure)
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	digest, _ := img.Digest()

	if len(box.bodies) != 1 || box.types[0] != ociregistry.NotificationType {
		t.Fatalf("got %d notifications (%v), want one manifest push", len(box.bodies), box.types)
	}
	// The ingress's own parser must read it exactly as a real registry's.
	evs, ignored, err := webhook.ParseDistribution(box.bodies[0])
	if err != nil || ignored != 0 || len(evs) != 1 {
		t.Fatalf("ParseDistribution: %v, %d ignored, %+v", err, ignored, evs)
	}
	got := evs[0].Image
	if got.Registry != host || got.Repository != "demo/web" || got.Digest != digest.String() || got.Tag != "sha-0123456789ab" {
		t.Fatalf("notification names %+v, want %s/demo/web@%s tag sha-0123456789ab", got, host, digest)
	}
	var raw map[string]any
	_ = json.Unmarshal(box.bodies[0], &raw)

	srv.Close()
	reg.Close()
	reg2, err := ociregistry.Open(dir, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer reg2.Close()
	srv2 := httptest.NewServer(reg2)
	defer srv2.Close()
	ref2, _ := name.ParseReference(strings.TrimPrefix(srv2.URL, "http://")+"/demo/web:sha-0123456789ab", name.Insecure)
	back, err := remote.Image(ref2)
	if err != nil {
		t.Fatalf("image lost across a restart: %v", err)
	}
	if d, _ := back.Digest(); d != digest {
		t.Fatalf("after restart digest %s, want %s", d, digest)
	}
	if _, err := back.RawConfigFile(); err != nil {
		t.Fatalf("blobs lost across a restart: %v", err)
	}
}
