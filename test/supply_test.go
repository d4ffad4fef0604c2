package test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/attest"
	"github.com/conveyor-gitops/conveyor/shared/build"
	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/consume"
	"github.com/conveyor-gitops/conveyor/shared/demo"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
	"github.com/conveyor-gitops/conveyor/shared/state/sqlitestate"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestAttestationsWithRealClients builds a signed image into the CNCF
// distribution registry and checks what it attached with clients that
// are not Conveyor's: `oras discover` lists the provenance and the SBOM
// as referrers of the image, oras fetches the signed provenance, and
// openssl verifies its DSSE signature with the public key.
func TestAttestationsWithRealClients(t *testing.T) {
	ctx := context.Background()
	oras := tool(t, "oras")
	addr := startDistribution(t, "", "")
	dir := t.TempDir()

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "signing.pem")
	writeFile(t, keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})))
	signer, err := attest.LoadSigner(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := signer.PublicKeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	pubFile := filepath.Join(dir, "signing.pub")
	writeFile(t, pubFile, string(pub))

	app, err := demo.InitRepo(filepath.Join(dir, "web"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := app.Commit(map[string]string{"Dockerfile": "FROM scratch\nCOPY bin/${TARGETARCH}/server /srv/server\n",
		"bin/amd64/server": "amd64\n", "bin/arm64/server": "arm64\n"}, "binaries", time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	image := addr + "/acme/web"
	cfg, err := config.Parse("conveyor.yaml", []byte(fmt.Sprintf(`version: 1
apps:
  - name: web
    source: {repo: %s}
    image: %s
    build: {platforms: [linux/amd64, linux/arm64]}
    environments: [{name: dev, path: envs/dev, release: auto}]
`, app.Dir, image)))
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlitedb.Open(ctx, filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st, err := sqlitestate.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	b := &build.Builder{Config: func(context.Context) (*config.Config, error) { return cfg, nil }, Idem: st, TempDir: dir,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Signer: signer}
	push := event.Push{Repository: "acme/web", CloneURL: "file://" + app.Dir, Ref: "refs/heads/main", Branch: "main", After: c.Hash.String()}
	env, err := event.New(event.KindPush, "github", "delivery-1", "trace-supply", push, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := env.Encode()
	if err := (consume.Consumer{Fn: b.Func(), Log: b.Log}).Handle(ctx, queue.Message{ID: "m1", Body: body}); err != nil {
		t.Fatal(err)
	}
	tag, _ := name.ParseReference(image + ":sha-" + push.After[:12])
	desc, err := remote.Head(tag)
	if err != nil {
		t.Fatal(err)
	}
	subject := image + "@" + desc.Digest.String()

	// oras discover lists both statements as referrers of the image.
	out := runTool(t, oras, "discover", "--plain-http", "--format", "json", subject)
	found := map[string]string{} // predicate type → referrer digest
	for _, r := range referrers(t, out) {
		found[r.Annotations[attest.AnnotationPredicateType]] = r.Digest
		if r.ArtifactType != attest.MediaTypeDSSE {
			t.Errorf("referrer %s has artifact type %q, want a signed envelope", r.Digest, r.ArtifactType)
		}
	}
	if found[attest.PredicateSLSA] == "" || found[attest.PredicateCycloneDX] == "" {
		t.Fatalf("oras discover found %v, want provenance and SBOM:\n%s", found, out)
	}

	// oras fetches the provenance envelope; openssl checks its signature.
	var m struct {
		Layers []struct{ Digest string } `json:"layers"`
	}
	if err := json.Unmarshal([]byte(runTool(t, oras, "manifest", "fetch", "--plain-http", image+"@"+found[attest.PredicateSLSA])), &m); err != nil || len(m.Layers) != 1 {
		t.Fatalf("referrer manifest: %v, %+v", err, m)
	}
	envFile := filepath.Join(dir, "provenance.dsse.json")
	runTool(t, oras, "blob", "fetch", "--plain-http", "--output", envFile, image+"@"+m.Layers[0].Digest)
	var envelope attest.Envelope
	data, _ := os.ReadFile(envFile)
	if err := json.Unmarshal(data, &envelope); err != nil || len(envelope.Signatures) != 1 {
		t.Fatalf("envelope: %v, %d signatures", err, len(envelope.Signatures))
	}
	payload, _ := base64.StdEncoding.DecodeString(envelope.Payload)
	sig, _ := base64.StdEncoding.DecodeString(envelope.Signatures[0].Sig)
	pae := "DSSEv1 " + strconv.Itoa(len(envelope.PayloadType)) + " " + envelope.PayloadType + " " + strconv.Itoa(len(payload)) + " " + string(payload)
	writeFile(t, filepath.Join(dir, "pae"), pae)
	writeFile(t, filepath.Join(dir, "sig"), string(sig))
	if out := runTool(t, "openssl", "dgst", "-sha256", "-verify", pubFile, "-signature", filepath.Join(dir, "sig"), filepath.Join(dir, "pae")); !strings.Contains(out, "Verified OK") {
		t.Fatalf("openssl: %s", out)
	}
	var statement attest.Statement
	if err := json.Unmarshal(payload, &statement); err != nil || !strings.Contains(string(statement.Predicate), push.After) ||
		statement.Subject[0].Digest["sha256"] != desc.Digest.Hex {
		t.Fatalf("the signed statement is not this image's provenance: %v\n%s", err, payload)
	}
	// Conveyor's own gate agrees.
	d, _ := name.NewDigest(subject)
	pk, _ := attest.ParsePublicKey(pub)
	if v, err := (&attest.Verifier{PublicKey: pk}).Verify(ctx, d); err != nil || !v.Signed {
		t.Fatalf("Verify: %v, %+v", err, v)
	}
}

type referrer struct {
	Digest       string            `json:"digest"`
	ArtifactType string            `json:"artifactType"`
	Annotations  map[string]string `json:"annotations"`
}

// referrers reads `oras discover --format json`: the subject with its
// referrers (oras ≥ 1.2 nests them under "referrers"; older ones list
// "manifests").
func referrers(t *testing.T, out string) []referrer {
	t.Helper()
	var doc struct {
		Referrers []referrer `json:"referrers"`
		Manifests []referrer `json:"manifests"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("oras discover output: %v\n%s", err, out)
	}
	return append(doc.Referrers, doc.Manifests...)
}

func runTool(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return string(out)
}
