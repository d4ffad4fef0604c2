package attest

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"os"
	"strings"
)

// Settings are a deployment's attestation settings.
type Settings struct {
	// BuilderID names the deployment in the provenance it writes and is
	// what promotions that require provenance check for.
	BuilderID string
	// Signer signs attestations; nil leaves them unsigned.
	Signer *Signer
	// PublicKey, when set, is required to verify provenance signatures.
	PublicKey *ecdsa.PublicKey
}

// Environment variables SettingsFromEnv reads.
const (
	EnvBuilderID  = "CONVEYOR_BUILDER_ID"  // DefaultBuilderID when unset
	EnvSigningKey = "CONVEYOR_SIGNING_KEY" // path of a PEM ECDSA P-256 private key, or awskms:///KEY
	EnvVerifyKey  = "CONVEYOR_VERIFY_KEY"  // path of the PEM public key promotions verify with
)

// SettingsFromEnv reads Settings from the environment. With a signing key
// and no verify key, promotions verify with the signing key's public half.
func SettingsFromEnv(lookup func(string) (string, bool)) (Settings, error) {
	var s Settings
	s.BuilderID, _ = lookup(EnvBuilderID)
	if path, ok := lookup(EnvSigningKey); ok && path != "" {
		var signer *Signer
		var err error
		if strings.HasPrefix(path, KMSScheme) {
			signer, err = loadKMSSigner(context.Background(), path)
		} else {
			signer, err = LoadSigner(path)
		}
		if err != nil {
			return Settings{}, fmt.Errorf("%s: %w", EnvSigningKey, err)
		}
		s.Signer, s.PublicKey = signer, signer.PublicKey()
	}
	if path, ok := lookup(EnvVerifyKey); ok && path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return Settings{}, fmt.Errorf("%s: reading public key: %w", EnvVerifyKey, err)
		}
		if s.PublicKey, err = ParsePublicKey(data); err != nil {
			return Settings{}, fmt.Errorf("%s: %w", EnvVerifyKey, err)
		}
	}
	return s, nil
}
