package attest_test

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conveyor-gitops/conveyor/shared/attest"
)

func TestSettingsFromEnv(t *testing.T) {
	dir := t.TempDir()
	key := newKey(t)
	der, _ := x509.MarshalECPrivateKey(key)
	keyFile := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	pub, _ := attest.NewSigner(key).PublicKeyPEM()
	pubFile := filepath.Join(dir, "key.pub")
	if err := os.WriteFile(pubFile, pub, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		env        map[string]string
		signer     bool
		verify     bool
		errContain string
	}{
		{"nothing set: unsigned", map[string]string{}, false, false, ""},
		{"a signing key verifies with its public half", map[string]string{attest.EnvSigningKey: keyFile, attest.EnvBuilderID: "https://b.example"}, true, true, ""},
		{"a verify key alone", map[string]string{attest.EnvVerifyKey: pubFile}, false, true, ""},
		{"a missing key file", map[string]string{attest.EnvSigningKey: filepath.Join(dir, "nope.pem")}, false, false, attest.EnvSigningKey},
		{"a public key given as the signing key", map[string]string{attest.EnvSigningKey: pubFile}, false, false, "CONVEYOR_SIGNING_KEY: parsing signing key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := attest.SettingsFromEnv(func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
			if tc.errContain != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errContain) {
					t.Fatalf("error %v, want one containing %q", err, tc.errContain)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (s.Signer != nil) != tc.signer || (s.PublicKey != nil) != tc.verify || s.BuilderID != tc.env[attest.EnvBuilderID] {
				t.Errorf("settings %+v", s)
			}
			if tc.verify && !s.PublicKey.Equal(&key.PublicKey) {
				t.Errorf("verify key is not the signing key's public half")
			}
		})
	}
}
