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

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/conveyor-gitops/conveyor/shared/attest"
	"github.com/conveyor-gitops/conveyor/shared/build"
	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/consume"
	"github.com/conveyor-gitops/conveyor/shared/demo"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
	"github.com/conveyor-gitops/conveyor/shared/state/sqlitestate"
	"github.com/conveyor-gitops/conveyor/test/emulator"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestAttestationsWithRealClients builds a signed image into the CNCF
// distribution registry and checks what it attached with clients that
// are not Conveyor's: `oras discover` lists the provenance and the SBOM
// as referrers of the image, oras fetches the signed provenance, and
// openssl verifies its DSSE signature with the public key, and
// `cosign verify-attestation` verifies it at cosign's own tag.
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

	subject, image, commit := buildSigned(t, addr, dir, signer)
	desc, err := name.NewDigest(subject)
	if err != nil {
		t.Fatal(err)
	}

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
	if err := json.Unmarshal(payload, &statement); err != nil || !strings.Contains(string(statement.Predicate), commit) ||
		statement.Subject[0].Digest["sha256"] != strings.TrimPrefix(desc.DigestStr(), "sha256:") {
		t.Fatalf("the signed statement is not this image's provenance: %v\n%s", err, payload)
	}
	// cosign, the verifier people use, checks the signed provenance at the
	// tag it reads attestations from, with the public key and no
	// transparency log (Conveyor signs with a key, not keyless).
	cosign := tool(t, "cosign")
	out = runCosign(t, cosign, "verify-attestation", "--key", pubFile, "--type", "slsaprovenance1",
		"--insecure-ignore-tlog", "--allow-http-registry", "--output", "json", subject)
	var verified attest.Envelope
	if err := json.Unmarshal([]byte(firstLine(out)), &verified); err != nil {
		t.Fatalf("cosign verify-attestation printed no envelope: %v\n%s", err, out)
	}
	if verified.Payload != envelope.Payload {
		t.Errorf("cosign verified another statement than the referrer's:\n%s", out)
	}
	// A key that did not sign it is refused.
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	otherDER, _ := x509.MarshalPKIXPublicKey(&other.PublicKey)
	otherPub := filepath.Join(dir, "other.pub")
	writeFile(t, otherPub, string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: otherDER})))
	wrong := exec.Command(cosign, "verify-attestation", "--key", otherPub, "--type", "slsaprovenance1",
		"--insecure-ignore-tlog", "--allow-http-registry", subject)
	wrong.Env = cosignEnv(t)
	if out, err := wrong.CombinedOutput(); err == nil {
		t.Fatalf("cosign accepted the provenance with a key that did not sign it:\n%s", out)
	} else if !strings.Contains(string(out), "no matching attestations") {
		t.Fatalf("cosign refused the wrong key for another reason than the signature:\n%s", out)
	}

	// Conveyor's own gate agrees.
	pk, _ := attest.ParsePublicKey(pub)
	if v, err := (&attest.Verifier{PublicKey: pk}).Verify(ctx, desc); err != nil || !v.Signed {
		t.Fatalf("Verify: %v, %+v", err, v)
	}
}

// buildSigned builds, with signer, a two-platform image of a fresh source
// repository into the registry at addr, as the build function does, and
// returns its digest reference, its repository and the commit built.
func buildSigned(t *testing.T, addr, dir string, signer *attest.Signer) (subject, image, commit string) {
	t.Helper()
	ctx := context.Background()
	app, err := demo.InitRepo(filepath.Join(dir, "web"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := app.Commit(map[string]string{"Dockerfile": "FROM scratch\nCOPY bin/${TARGETARCH}/server /srv/server\n",
		"bin/amd64/server": "amd64\n", "bin/arm64/server": "arm64\n"}, "binaries", time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	image = addr + "/acme/web"
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
	return image + "@" + desc.Digest.String(), image, push.After
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

// runCosign runs cosign with no Sigstore configuration from the machine.
func runCosign(t *testing.T, cosign string, args ...string) string {
	t.Helper()
	return runCosignEnv(t, cosign, nil, args...)
}

// runCosignEnv runs cosign with env added to cosignEnv's and returns its
// stdout.
func runCosignEnv(t *testing.T, cosign string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(cosign, args...)
	cmd.Env = append(cosignEnv(t), env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("cosign %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// cosignEnv keeps cosign off the machine's Sigstore and AWS settings: its
// home (TUF cache, ~/.aws) is a fresh directory.
func cosignEnv(t *testing.T) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "SIGSTORE_") && !strings.HasPrefix(kv, "COSIGN_") && !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	return append(env, "HOME="+t.TempDir())
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

// TestKMSAttestationWithCosign signs with a key held in AWS KMS (the
// local-kms emulator) and has cosign verify the provenance through KMS
// itself, `--key awskms:///ARN`, as README tells users on AWS to: cosign
// fetches the public half from KMS, so the key Conveyor names in the
// envelope and the key KMS holds must be the same.
func TestKMSAttestationWithCosign(t *testing.T) {
	ctx := context.Background()
	cosign := tool(t, "cosign")
	srv := emulator.StartKMS(t)
	key, err := srv.KMS().CreateKey(ctx, &kms.CreateKeyInput{KeySpec: kmstypes.KeySpecEccNistP256, KeyUsage: kmstypes.KeyUsageTypeSignVerify})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(key.KeyMetadata.Arn)
	signer, err := attest.NewKMSSigner(ctx, srv.KMS(), arn)
	if err != nil {
		t.Fatal(err)
	}
	subject, _, _ := buildSigned(t, startDistribution(t, "", ""), t.TempDir(), signer)

	// The AWS SDK inside cosign finds the emulator the standard way.
	env := []string{"AWS_ENDPOINT_URL_KMS=" + srv.Endpoint, "AWS_REGION=" + emulator.Region,
		"AWS_ACCESS_KEY_ID=conveyor", "AWS_SECRET_ACCESS_KEY=conveyor", "AWS_EC2_METADATA_DISABLED=true"}
	args := []string{"verify-attestation", "--key", "awskms:///" + arn, "--type", "slsaprovenance1",
		"--insecure-ignore-tlog", "--allow-http-registry", "--output", "json", subject}
	out := runCosignEnv(t, cosign, env, args...)
	var verified attest.Envelope
	if err := json.Unmarshal([]byte(firstLine(out)), &verified); err != nil || verified.Payload == "" {
		t.Fatalf("cosign verify-attestation printed no envelope: %v\n%s", err, out)
	}
	payload, _ := base64.StdEncoding.DecodeString(verified.Payload)
	if !strings.Contains(string(payload), strings.TrimPrefix(subject[strings.Index(subject, "@")+1:], "sha256:")) {
		t.Errorf("cosign verified a statement about another subject:\n%s", payload)
	}

	// Another KMS key did not sign it.
	other, err := srv.KMS().CreateKey(ctx, &kms.CreateKeyInput{KeySpec: kmstypes.KeySpecEccNistP256, KeyUsage: kmstypes.KeyUsageTypeSignVerify})
	if err != nil {
		t.Fatal(err)
	}
	args[2] = "awskms:///" + aws.ToString(other.KeyMetadata.Arn)
	cmd := exec.Command(cosign, args...)
	cmd.Env = append(cosignEnv(t), env...)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "no matching attestations") {
		t.Fatalf("cosign with a KMS key that did not sign: %v\n%s", err, out)
	}
}
