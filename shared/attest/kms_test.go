package attest_test

import (
	"context"
	"crypto/x509"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/conveyor-gitops/conveyor/shared/attest"
	"github.com/conveyor-gitops/conveyor/test/emulator"
)

func createKey(t *testing.T, c *kms.Client, spec types.KeySpec) string {
	t.Helper()
	out, err := c.CreateKey(context.Background(), &kms.CreateKeyInput{KeySpec: spec, KeyUsage: types.KeyUsageTypeSignVerify})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.KeyMetadata.Arn)
}

// TestKMSSignerAgainstLocalKMS signs provenance with a key that stays in
// an AWS KMS emulator (local-kms), attaches it to a real registry, and
// verifies it with the public key KMS hands out; keys KMS cannot sign
// ECDSA P-256 with are refused when the signer is made, naming the need.
func TestKMSSignerAgainstLocalKMS(t *testing.T) {
	ctx := context.Background()
	srv := emulator.StartKMS(t)
	c := srv.KMS()
	arn := createKey(t, c, types.KeySpecEccNistP256)
	if _, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/conveyor"), TargetKeyId: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}

	t.Run("signs, attaches and verifies with KMS's public key", func(t *testing.T) {
		signer, err := attest.NewKMSSigner(ctx, c, "alias/conveyor")
		if err != nil {
			t.Fatal(err)
		}
		pk, err := c.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(arn)})
		if err != nil {
			t.Fatal(err)
		}
		want, _ := x509.ParsePKIXPublicKey(pk.PublicKey)
		if !signer.PublicKey().Equal(want) {
			t.Fatal("the signer's public key is not the KMS key's")
		}
		p := pushImage(t, true)
		if err := (&attest.Attacher{Signer: signer}).Attach(ctx, p.repo, p.desc, statements(t, p)...); err != nil {
			t.Fatal(err)
		}
		got, err := (&attest.Verifier{PublicKey: signer.PublicKey()}).Verify(ctx, p.repo.Digest(p.desc.Digest.String()))
		if err != nil {
			t.Fatal(err)
		}
		if !got.Signed || got.Provenance.BuildDefinition.ExternalParameters.Source.Commit != strings.Repeat("ab", 20) {
			t.Errorf("verified provenance: signed %v, %+v", got.Signed, got.Provenance.BuildDefinition.ExternalParameters.Source)
		}
		other := newKey(t)
		_, err = (&attest.Verifier{PublicKey: &other.PublicKey}).Verify(ctx, p.repo.Digest(p.desc.Digest.String()))
		if !errors.Is(err, attest.ErrNoProvenance) || !strings.Contains(err.Error(), "signature does not verify") {
			t.Errorf("Verify with another key = %v, want a refusal naming the signature", err)
		}
		env, err := signer.Sign(attest.MediaTypeInToto, []byte(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		if kid := env.Signatures[0].KeyID; kid != attest.KMSScheme+"/"+arn {
			t.Errorf("keyid %q, want the key's ARN (not its alias) as %s/ARN", kid, attest.KMSScheme)
		}
	})

	t.Run("refuses keys that are not ECDSA P-256 signing keys", func(t *testing.T) {
		for _, spec := range []types.KeySpec{types.KeySpecRsa2048, types.KeySpecEccNistP384} {
			_, err := attest.NewKMSSigner(ctx, c, createKey(t, c, spec))
			if err == nil || !strings.Contains(err.Error(), "ECC_NIST_P256") {
				t.Errorf("%s key: %v, want an error naming ECC_NIST_P256", spec, err)
			}
		}
		if _, err := attest.NewKMSSigner(ctx, c, "alias/missing"); err == nil || !strings.Contains(err.Error(), "alias/missing") {
			t.Errorf("a missing key: %v, want an error naming it", err)
		}
	})

	t.Run("CONVEYOR_SIGNING_KEY=awskms://", func(t *testing.T) {
		t.Setenv("AWS_ACCESS_KEY_ID", "conveyor")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "conveyor")
		t.Setenv("AWS_REGION", emulator.Region)
		ref := attest.KMSScheme + strings.TrimPrefix(srv.Endpoint, "http://") + "/alias/conveyor"
		s, err := attest.SettingsFromEnv(func(k string) (string, bool) {
			return map[string]string{attest.EnvSigningKey: ref}[k], k == attest.EnvSigningKey
		})
		if err != nil {
			t.Fatal(err)
		}
		if s.Signer == nil || s.PublicKey == nil || !s.PublicKey.Equal(s.Signer.PublicKey()) {
			t.Fatalf("settings from %s: %+v", ref, s)
		}
		env, err := s.Signer.Sign(attest.MediaTypeInToto, []byte(`{"a":1}`))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := env.Open(s.PublicKey); err != nil {
			t.Errorf("opening an envelope KMS signed: %v", err)
		}
		_, err = attest.SettingsFromEnv(func(k string) (string, bool) {
			return map[string]string{attest.EnvSigningKey: attest.KMSScheme + "/"}[k], k == attest.EnvSigningKey
		})
		if err == nil || !strings.Contains(err.Error(), attest.EnvSigningKey) {
			t.Errorf("an empty key reference: %v, want an error naming %s", err, attest.EnvSigningKey)
		}
	})
}
