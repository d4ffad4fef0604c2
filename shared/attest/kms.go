package attest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// KMSScheme prefixes a signing key held in AWS KMS, as cosign writes it:
// awskms:///KEY, or awskms://HOST:PORT/KEY for another endpoint, where KEY
// is a key id, a key ARN, or alias/NAME.
const KMSScheme = "awskms://"

// KMS is the part of the KMS API a signer uses: *kms.Client satisfies it.
type KMS interface {
	Sign(ctx context.Context, in *kms.SignInput, opts ...func(*kms.Options)) (*kms.SignOutput, error)
	GetPublicKey(ctx context.Context, in *kms.GetPublicKeyInput, opts ...func(*kms.Options)) (*kms.GetPublicKeyOutput, error)
}

// kmsTimeout bounds one KMS call: crypto.Signer carries no context.
const kmsTimeout = 30 * time.Second

// NewKMSSigner signs with the KMS key keyID, which must be an
// ECC_NIST_P256 SIGN_VERIFY key: its public key is read once here, and
// each signature is made by KMS over the digest, so the private key never
// leaves KMS.
func NewKMSSigner(ctx context.Context, api KMS, keyID string) (*Signer, error) {
	out, err := api.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(keyID)})
	if err != nil {
		return nil, fmt.Errorf("reading the public key of KMS key %s: %w", keyID, err)
	}
	if out.KeySpec != types.KeySpecEccNistP256 || out.KeyUsage != types.KeyUsageTypeSignVerify {
		return nil, fmt.Errorf("KMS key %s is %s for %s: an ECC_NIST_P256 key for SIGN_VERIFY is required", keyID, out.KeySpec, out.KeyUsage)
	}
	k, err := x509.ParsePKIXPublicKey(out.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("parsing the public key of KMS key %s: %w", keyID, err)
	}
	pub, ok := k.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, fmt.Errorf("KMS key %s is not an ECDSA P-256 key", keyID)
	}
	// The ARN KMS answers with names the key itself, not an alias that
	// may later point elsewhere.
	id := aws.ToString(out.KeyId)
	if id == "" {
		id = keyID
	}
	return &Signer{key: &kmsKey{api: api, id: id, pub: pub}, pub: pub, keyID: KMSScheme + "/" + id}, nil
}

// kmsKey is a crypto.Signer whose private half stays in KMS.
type kmsKey struct {
	api KMS
	id  string
	pub *ecdsa.PublicKey
}

func (k *kmsKey) Public() crypto.PublicKey { return k.pub }

func (k *kmsKey) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts.HashFunc() != crypto.SHA256 {
		return nil, fmt.Errorf("signing with KMS key %s: only SHA-256 digests are signed", k.id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), kmsTimeout)
	defer cancel()
	out, err := k.api.Sign(ctx, &kms.SignInput{KeyId: aws.String(k.id), Message: digest,
		MessageType: types.MessageTypeDigest, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
	if err != nil {
		return nil, fmt.Errorf("signing with KMS key %s: %w", k.id, err)
	}
	return out.Signature, nil
}

// parseKMSRef splits awskms://[HOST[:PORT]]/KEY into an endpoint (empty:
// the SDK's default for the region) and the key.
func parseKMSRef(ref string) (endpoint, key string, err error) {
	rest := strings.TrimPrefix(ref, KMSScheme)
	host, key, ok := strings.Cut(rest, "/")
	if !ok || key == "" {
		return "", "", fmt.Errorf("%q: want %sKEY or %sHOST:PORT/KEY", ref, KMSScheme+"/", KMSScheme)
	}
	if host == "" {
		return "", key, nil
	}
	// Plain http only to this machine (an emulator); https elsewhere.
	scheme := "https"
	if h, _, err := net.SplitHostPort(host); err == nil && isLoopback(h) {
		scheme = "http"
	}
	u := &url.URL{Scheme: scheme, Host: host}
	return u.String(), key, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// loadKMSSigner opens the KMS key ref names with the default AWS
// credential chain (the function's role on Lambda).
func loadKMSSigner(ctx context.Context, ref string) (*Signer, error) {
	endpoint, key, err := parseKMSRef(ref)
	if err != nil {
		return nil, err
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading AWS configuration for KMS: %w", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("signing with KMS: no AWS region configured (AWS_REGION)")
	}
	client := kms.NewFromConfig(cfg, func(o *kms.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})
	return NewKMSSigner(ctx, client, key)
}
