package attest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strconv"
)

// ErrBadSignature is matched (errors.Is) when an envelope's signature does
// not verify with the public key.
var ErrBadSignature = errors.New("signature does not verify")

// Envelope is a DSSE envelope (https://github.com/secure-systems-lab/dsse).
type Envelope struct {
	PayloadType string      `json:"payloadType"`
	Payload     string      `json:"payload"` // base64
	Signatures  []Signature `json:"signatures"`
}

// Signature is one signature of an envelope.
type Signature struct {
	KeyID string `json:"keyid"`
	Sig   string `json:"sig"` // base64 ASN.1 ECDSA signature of the PAE's SHA-256
}

// Signer signs statements with an ECDSA P-256 key: one in this process,
// or one that never leaves AWS KMS (NewKMSSigner).
type Signer struct {
	key crypto.Signer
	pub *ecdsa.PublicKey
	// keyID names the key in each signature, for verifiers holding
	// several; empty for a key from a file.
	keyID string
}

// PublicKey is the key that verifies the signer's signatures.
func (s *Signer) PublicKey() *ecdsa.PublicKey { return s.pub }

// LoadSigner reads a PEM private key (PKCS#8 or SEC 1 "EC PRIVATE KEY") on
// the P-256 curve from path.
func LoadSigner(path string) (*Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading signing key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("reading signing key %s: no PEM block", path)
	}
	var key any
	switch block.Type {
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("parsing signing key %s: %w", path, err)
	}
	ec, ok := key.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, fmt.Errorf("signing key %s is not an ECDSA P-256 key", path)
	}
	return NewSigner(ec), nil
}

// NewSigner signs with key (which must be on P-256).
func NewSigner(key *ecdsa.PrivateKey) *Signer { return &Signer{key: key, pub: &key.PublicKey} }

// PublicKeyPEM returns the public key as a PEM "PUBLIC KEY" block, the
// form `cosign verify-attestation --key` reads.
func (s *Signer) PublicKeyPEM() ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(s.pub)
	if err != nil {
		return nil, fmt.Errorf("encoding public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// Sign wraps payload in a signed envelope.
func (s *Signer) Sign(payloadType string, payload []byte) (*Envelope, error) {
	h := sha256.Sum256(pae(payloadType, payload))
	// Both an *ecdsa.PrivateKey and KMS return ASN.1 DER signatures.
	sig, err := s.key.Sign(rand.Reader, h[:], crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	if !ecdsa.VerifyASN1(s.pub, h[:], sig) {
		// A KMS key swapped under its alias would sign what the
		// configured public key cannot verify: refuse to attach it.
		return nil, fmt.Errorf("signing: %w with the signer's public key", ErrBadSignature)
	}
	return &Envelope{PayloadType: payloadType, Payload: base64.StdEncoding.EncodeToString(payload),
		Signatures: []Signature{{KeyID: s.keyID, Sig: base64.StdEncoding.EncodeToString(sig)}}}, nil
}

// ParsePublicKey reads a PEM "PUBLIC KEY" (PKIX) ECDSA key.
func ParsePublicKey(data []byte) (*ecdsa.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("parsing public key: no PEM block")
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing public key: %w", err)
	}
	ec, ok := k.(*ecdsa.PublicKey)
	if !ok {
		return nil, errors.New("parsing public key: not an ECDSA key")
	}
	return ec, nil
}

// Open verifies the envelope with pub (any one signature suffices) and
// returns its payload.
func (e *Envelope) Open(pub *ecdsa.PublicKey) ([]byte, error) {
	payload, err := base64.StdEncoding.DecodeString(e.Payload)
	if err != nil {
		return nil, fmt.Errorf("decoding envelope payload: %w", err)
	}
	h := sha256.Sum256(pae(e.PayloadType, payload))
	for _, s := range e.Signatures {
		sig, err := base64.StdEncoding.DecodeString(s.Sig)
		if err == nil && ecdsa.VerifyASN1(pub, h[:], sig) {
			return payload, nil
		}
	}
	return nil, ErrBadSignature
}

// pae is DSSE's pre-authentication encoding of a payload.
func pae(payloadType string, payload []byte) []byte {
	b := []byte("DSSEv1 " + strconv.Itoa(len(payloadType)) + " " + payloadType + " " + strconv.Itoa(len(payload)) + " ")
	return append(b, payload...)
}

// decode returns the payload without checking a signature.
func (e *Envelope) decode() ([]byte, error) {
	p, err := base64.StdEncoding.DecodeString(e.Payload)
	if err != nil {
		return nil, fmt.Errorf("%w: decoding envelope payload: %v", errInvalid, err)
	}
	return p, nil
}
