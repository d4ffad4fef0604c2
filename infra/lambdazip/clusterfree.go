package main

import (
	"bytes"
	"fmt"
	"os"
)

// clientPackages are the client-go packages that build cluster clients or
// load kubeconfig. Helm's template engine imports some of them (for its
// lookup function, which Conveyor never enables); the linker then keeps
// only their package initialisers. A bootstrap holding any other function
// of theirs can reach a cluster, and is refused (DESIGN.md invariant 1).
var clientPackages = []string{
	"k8s.io/client-go/rest.",
	"k8s.io/client-go/dynamic.",
	"k8s.io/client-go/discovery.",
	"k8s.io/client-go/kubernetes.",
	"k8s.io/client-go/tools/clientcmd.",
}

// clientFuncs are functions, named as the linker does, that give Helm's
// engine a cluster client.
var clientFuncs = []string{
	"helm.sh/helm/v3/pkg/engine.RenderWithClient",
	"helm.sh/helm/v3/pkg/engine.New\x00",
}

// clusterClients returns the cluster-client functions linked into a Go
// binary. Function names stay in the binary's pclntab, NUL-terminated, even
// when it is built with -s -w, so a byte search finds every linked one.
func clusterClients(bin []byte) []string {
	var found []string
	for _, p := range clientPackages {
		for rest := bin; ; {
			i := bytes.Index(rest, []byte(p))
			if i < 0 {
				break
			}
			name := rest[i:]
			if end := bytes.IndexByte(name, 0); end >= 0 {
				name = name[:end]
			}
			rest = rest[i+len(p):]
			if fn := name[len(p):]; !bytes.HasPrefix(fn, []byte("init")) {
				found = append(found, string(name))
			}
		}
	}
	for _, f := range clientFuncs {
		if bytes.Contains(bin, []byte(f)) {
			found = append(found, string(bytes.TrimRight([]byte(f), "\x00")))
		}
	}
	return found
}

// checkClusterFree refuses a bootstrap that links a cluster client.
func checkClusterFree(bootstrap string) error {
	bin, err := os.ReadFile(bootstrap)
	if err != nil {
		return err
	}
	if found := clusterClients(bin); len(found) > 0 {
		return fmt.Errorf("%s links cluster-client code (%s); Conveyor never touches a cluster", bootstrap, found[0])
	}
	return nil
}
