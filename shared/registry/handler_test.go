package registry_test

import (
	"context"
	"fmt"
	"github.com/conveyor-gitops/conveyor/shared/consume"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/ociregistry"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/queue/sqlitequeue"
	"github.com/conveyor-gitops/conveyor/shared/registry"
	"github.com/conveyor-gitops/conveyor/shared/retry"
	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestDecodeECR(t *testing.T) {
	body, err := os.ReadFile("../../events/ecr-push.json")
	if err != nil {
		t.Fatal(err)
	}
	env, err := registry.Decode(body)
	if err != nil {
		t.Fatal(err)
	}
	var img event.Image
	if err := env.DecodePayload(&img); err != nil {
		t.Fatal(err)
	}
	want := event.Image{Registry: "123456789012.dkr.ecr.eu-west-1.amazonaws.com", Repository: "acme/web",
		Digest: "sha256:4f2a8c0d6e1b3a5c7e9f0b2d4a6c8e0f1a3b5c7d9e1f3a5b7c9d1e3f5a7b9c1e", Tag: "sha-0d1a26e67d8f", Action: "push"}
	if img != want || env.Source != "ecr" || env.DeliveryID != "ecr:13cde686-328b-6117-af20-0e5566167482" {
		t.Fatalf("decoded %+v (%s, %s), want %+v", img, env.Source, env.DeliveryID, want)
	}
	failed := strings.Replace(string(body), `"SUCCESS"`, `"FAILURE"`, 1)
	env, err = registry.Decode([]byte(failed))
	if err != nil {
		t.Fatal(err)
	}
	_ = env.DecodePayload(&img)
	if img.Action != "" {
		t.Fatalf("a failed ECR push decoded as action %q", img.Action)
	}
	if _, err := registry.Decode([]byte(`{"detail-type":"EC2 Instance State-change Notification","source":"aws.ec2"}`)); err == nil {
		t.Fatal("a non-ECR EventBridge event was accepted")
	}
}

type fixture struct {
	h          *registry.Handler
	promotions *sqlitequeue.Queue
	host       string
}

func newFixture(t *testing.T, tags string) *fixture {
	t.Helper()
	ctx := context.Background()
	reg, err := ociregistry.Open(t.TempDir(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(reg)
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	cfg, err := config.Parse("conveyor.yaml", []byte(fmt.Sprintf(`version: 1
apps:
  - name: web
    source: {repo: acme/web}
    image: %s/acme/web
    %s
    environments:
      - {name: dev, path: envs/dev, reviewers: [alice]}
      - {name: prod, path: envs/prod, reviewers: [alice]}
  - name: web-canary
    source: {repo: acme/web}
    image: %s/acme/web
    tags: {glob: ["canary-*"]}
    environments:
      - {name: canary, path: envs/canary, reviewers: [alice]}
`, host, tags, host)))
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlitedb.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	b, err := sqlitequeue.Open(ctx, db, queue.Topology)
	if err != nil {
		t.Fatal(err)
	}
	promotions, _ := b.Queue(queue.Promotions)
	return &fixture{
		h:          &registry.Handler{Config: func(context.Context) (*config.Config, error) { return cfg, nil }, Promotions: promotions},
		promotions: promotions, host: host,
	}
}

func (f *fixture) push(t *testing.T, tag string) string {
	t.Helper()
	img, _ := random.Image(512, 1)
	img = mutate.Annotations(img, map[string]string{
		registry.AnnotationSource: "https://github.com/acme/web", registry.AnnotationRevision: "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
		registry.AnnotationCreated: "2026-11-28T23:40:00Z"}).(v1.Image)
	ref, _ := name.ParseReference(f.host + "/acme/web:" + tag)
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	return d.String()
}

// deliver runs the handler on one image envelope and returns the batch
// failures and the promotions it enqueued.
func (f *fixture) deliver(t *testing.T, img event.Image) (error, []event.Promotion) {
	t.Helper()
	env, _ := event.New(event.KindImage, "distribution", "d", "trace-1", img, time.Now())
	body, _ := env.Encode()
	failure := consume.Consumer{Fn: f.h.Func(), Decode: registry.Decode}.Handle(context.Background(), queue.Message{ID: "m1", Body: body})
	msgs, _ := f.promotions.Receive(context.Background(), 10, time.Minute)
	var out []event.Promotion
	for _, m := range msgs {
		e, err := event.Decode(m.Body)
		if err != nil {
			t.Fatal(err)
		}
		var p event.Promotion
		_ = e.DecodePayload(&p)
		if m.GroupID != p.GroupID() || e.TraceID != "trace-1" {
			t.Fatalf("promotion grouped %q with trace %q", m.GroupID, e.TraceID)
		}
		out = append(out, p)
		_ = f.promotions.Delete(context.Background(), m.ReceiptHandle)
	}
	return failure, out
}

func TestHandler(t *testing.T) {
	f := newFixture(t, `tags: {glob: ["sha-*"]}`)
	d := f.push(t, "sha-0d1a26e67d8f")
	for _, tc := range []struct {
		name    string
		img     event.Image
		want    []string // app/env of promotions
		failure bool
	}{
		{"tagged push promotes the first environment", event.Image{Registry: f.host, Repository: "acme/web", Digest: d, Tag: "sha-0d1a26e67d8f", Action: "push"}, []string{"web/dev"}, false},
		{"tag policy routes to the canary app only", event.Image{Registry: f.host, Repository: "acme/web", Digest: d, Tag: "canary-1", Action: "push"}, []string{"web-canary/canary"}, false},
		{"tag outside every policy ignored", event.Image{Registry: f.host, Repository: "acme/web", Digest: d, Tag: "latest", Action: "push"}, nil, false},
		{"untagged push ignored", event.Image{Registry: f.host, Repository: "acme/web", Digest: d, Action: "push"}, nil, false},
		{"delete ignored", event.Image{Registry: f.host, Repository: "acme/web", Digest: d, Tag: "sha-0d1a26e67d8f", Action: "delete"}, nil, false},
		{"other repository ignored", event.Image{Registry: f.host, Repository: "acme/api", Digest: d, Tag: "sha-1", Action: "push"}, nil, false},
		{"image missing from the registry", event.Image{Registry: f.host, Repository: "acme/web", Digest: "sha256:" + strings.Repeat("0", 64), Tag: "sha-1", Action: "push"}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			failure, proms := f.deliver(t, tc.img)
			if (failure != nil) != tc.failure {
				t.Fatalf("failure %v, want failure=%v", failure, tc.failure)
			}
			var got []string
			for _, p := range proms {
				got = append(got, p.App+"/"+p.Environment)
				if p.Revision != "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c" || p.Source != "https://github.com/acme/web" || p.Created.IsZero() || p.Digest != d {
					t.Fatalf("promotion lacks the image's provenance: %+v", p)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("promotions %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMissingImageIsPermanent(t *testing.T) {
	f := newFixture(t, "")
	_, err := registry.Inspect(context.Background(), f.host+"/acme/web@sha256:"+strings.Repeat("0", 64))
	if err == nil || !retry.IsPermanent(err) {
		t.Fatalf("Inspect of a missing image = %v, want permanent", err)
	}
	_, err = registry.Inspect(context.Background(), "127.0.0.1:1/acme/web@sha256:"+strings.Repeat("0", 64))
	if err == nil || retry.IsPermanent(err) {
		t.Fatalf("Inspect of an unreachable registry = %v, want transient", err)
	}
}

// TestAttachmentTagsIgnored: the tags that carry an image's attestations
// (the OCI referrers tag, cosign's .att and .sig) and the release tags
// retention moves are not new images to promote, even for an app that
// accepts every tag.
func TestAttachmentTagsIgnored(t *testing.T) {
	f := newFixture(t, "")
	d := f.push(t, "sha-0d1a26e67d8f")
	ref := "sha256-" + strings.TrimPrefix(d, "sha256:")
	for _, tag := range []string{ref, ref + ".att", ref + ".sig", "release-dev", "release-prod-2"} {
		t.Run(tag, func(t *testing.T) {
			failure, proms := f.deliver(t, event.Image{Registry: f.host, Repository: "acme/web", Digest: d, Tag: tag, Action: "push"})
			if failure != nil || len(proms) != 0 {
				t.Fatalf("failure %v, %d promotions; want the tag ignored", failure, len(proms))
			}
		})
	}
}

// TestHandlerFollowsTheConfiguration: the image index is per
// configuration, so an app added or repointed by a new conveyor.yaml is
// found at the next event.
func TestHandlerFollowsTheConfiguration(t *testing.T) {
	f := newFixture(t, `tags: {glob: ["sha-*"]}`)
	d := f.push(t, "sha-0d1a26e67d8f")
	img := event.Image{Registry: f.host, Repository: "acme/web", Digest: d, Tag: "sha-0d1a26e67d8f", Action: "push"}
	if _, proms := f.deliver(t, img); len(proms) != 1 || proms[0].App != "web" {
		t.Fatalf("promotions %+v, want web's", proms)
	}
	next, err := config.Parse("conveyor.yaml", []byte(fmt.Sprintf(`version: 1
apps:
  - name: api
    source: {repo: acme/api}
    image: %s/acme/api
    environments: [{name: dev, path: envs/api, reviewers: [alice]}]
  - name: web-next
    source: {repo: acme/web}
    image: %s/acme/web
    environments: [{name: qa, path: envs/qa, reviewers: [alice]}]
`, f.host, f.host)))
	if err != nil {
		t.Fatal(err)
	}
	f.h.Config = func(context.Context) (*config.Config, error) { return next, nil }
	_, proms := f.deliver(t, img)
	if len(proms) != 1 || proms[0].App != "web-next" || proms[0].Environment != "qa" {
		t.Fatalf("promotions after the configuration changed: %+v, want web-next/qa", proms)
	}
}
