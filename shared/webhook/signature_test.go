package webhook

import (
	"errors"
	"testing"
)

func TestVerifySignatureVector(t *testing.T) {
	// GitHub's documented test vector.
	const want = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	secret, body := []byte("It's a Secret to Everybody"), []byte("Hello, World!")
	if got := SignatureHeader(secret, body); got != want {
		t.Fatalf("SignatureHeader = %s, want %s", got, want)
	}
	for _, tc := range []struct {
		name   string
		secret []byte
		header string
		body   string
		want   error
	}{
		{"valid", secret, want, "Hello, World!", nil},
		{"other body", secret, want, "Hello, World?", ErrBadSignature},
		{"no secret", nil, want, "Hello, World!", ErrNoSecret},
		{"no header", secret, "", "Hello, World!", ErrNoSignature},
		{"sha1", secret, "sha1=01d3f8f2ab3ebca4d7e3f9b6f4bb18d0e6c5e8f9", "Hello, World!", ErrSignatureForm},
		{"not hex", secret, "sha256=" + string(make([]byte, 64)), "Hello, World!", ErrSignatureForm},
		{"upper-case hex still valid", secret, "sha256=757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E17", "Hello, World!", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := VerifySignature(tc.secret, tc.header, []byte(tc.body)); !errors.Is(err, tc.want) {
				t.Fatalf("VerifySignature = %v, want %v", err, tc.want)
			}
		})
	}
}
