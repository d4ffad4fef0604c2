package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
)

// Signature errors, each answered with 401.
var (
	ErrNoSecret      = errors.New("webhook secret not configured")
	ErrNoSignature   = errors.New("missing X-Hub-Signature-256 header")
	ErrBadSignature  = errors.New("X-Hub-Signature-256 does not match the body")
	ErrSignatureForm = errors.New(`X-Hub-Signature-256 is not "sha256=<64 hex digits>"`)
)

// VerifySignature checks GitHub's X-Hub-Signature-256 header value against
// the raw body: "sha256=" and the hex HMAC-SHA256 of body under secret,
// compared in constant time. The SHA-1 header is never accepted.
func VerifySignature(secret []byte, header string, body []byte) error {
	if len(secret) == 0 {
		return ErrNoSecret
	}
	if header == "" {
		return ErrNoSignature
	}
	hexSig, ok := strings.CutPrefix(header, "sha256=")
	if !ok || len(hexSig) != sha256.Size*2 {
		return ErrSignatureForm
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return ErrSignatureForm
	}
	if !hmac.Equal(got, Sign(secret, body)) {
		return ErrBadSignature
	}
	return nil
}

// Sign returns the HMAC-SHA256 of body under secret.
func Sign(secret, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return m.Sum(nil)
}

// SignatureHeader returns the X-Hub-Signature-256 value for body, as GitHub
// computes it.
func SignatureHeader(secret, body []byte) string {
	return "sha256=" + hex.EncodeToString(Sign(secret, body))
}
