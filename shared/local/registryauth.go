package local

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"strings"

	"github.com/conveyor-gitops/conveyor/shared/ociregistry"
	"github.com/google/go-containerregistry/pkg/authn"
)

// registryPassword returns the push password the embedded registry at addr
// requires: none on loopback, where only this machine reaches it, else the
// one given or a generated one (generated true).
func registryPassword(addr, given string) (password string, generated bool) {
	if ociregistry.IsLoopback(addr) {
		return "", false
	}
	if given != "" {
		return given, false
	}
	b := make([]byte, 24)
	_, _ = rand.Read(b) // crypto/rand never fails on supported platforms
	return hex.EncodeToString(b), true
}

// RegistryPassword returns the embedded registry's push password ("" when
// pushes need none) and whether it was generated, for the operator to be
// told once.
func (r *Runtime) RegistryPassword() (password string, generated bool) {
	return r.opts.RegistryPassword, r.passwordGenerated
}

// RegistryKeychain is what the runtime's own builds push with: the push
// credentials for the embedded registry, when it requires them, and the
// default keychain for every other registry.
func (r *Runtime) RegistryKeychain() authn.Keychain {
	if r.opts.RegistryPassword == "" {
		return authn.DefaultKeychain
	}
	return authn.NewMultiKeychain(ownRegistry{r}, authn.DefaultKeychain)
}

// ownRegistry gives the push credentials to the embedded registry only: a
// registry named by a name of this machine on the registry's port.
type ownRegistry struct{ r *Runtime }

func (o ownRegistry) Resolve(res authn.Resource) (authn.Authenticator, error) {
	if o.r.isOwnRegistry(res.RegistryStr()) {
		return &authn.Basic{Username: ociregistry.PushUser, Password: o.r.opts.RegistryPassword}, nil
	}
	return authn.Anonymous, nil
}

func (r *Runtime) isOwnRegistry(hostport string) bool {
	listen := r.opts.RegistryAddr
	if r.regListener != nil {
		listen = r.regListener.Addr().String()
	}
	lhost, lport, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil || port != lport {
		return false
	}
	if strings.EqualFold(host, lhost) || strings.EqualFold(host, "localhost") {
		return true
	}
	if name, err := os.Hostname(); err == nil && strings.EqualFold(host, name) {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	if ip == nil {
		return false
	}
	if ip.IsLoopback() {
		return true
	}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
			return true
		}
	}
	return false
}
