package main

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestClusterClients: only client-go package initialisers may be linked;
// a constructor, a kubeconfig loader or Helm's client-aware render is
// found in the binary's function names, NUL-terminated as the linker
// writes them.
func TestClusterClients(t *testing.T) {
	names := func(ns ...string) []byte {
		var b []byte
		for _, n := range ns {
			b = append(append(b, n...), 0)
		}
		return b
	}
	for _, tc := range []struct {
		name string
		bin  []byte
		want []string
	}{
		{"initialisers only", names("k8s.io/client-go/rest.init", "k8s.io/client-go/dynamic.init.0", "helm.sh/helm/v3/pkg/engine.Render",
			"helm.sh/helm/v3/pkg/engine.newLookupFunction.func1", "k8s.io/client-go/tools/clientcmd/api.(*Config).DeepCopy"), nil},
		{"in-cluster config", names("main.main", "k8s.io/client-go/rest.InClusterConfig"), []string{"k8s.io/client-go/rest.InClusterConfig"}},
		{"kubeconfig", names("k8s.io/client-go/tools/clientcmd.BuildConfigFromFlags"), []string{"k8s.io/client-go/tools/clientcmd.BuildConfigFromFlags"}},
		{"clientsets", names("k8s.io/client-go/kubernetes.NewForConfig", "k8s.io/client-go/dynamic.NewForConfig"),
			[]string{"k8s.io/client-go/dynamic.NewForConfig", "k8s.io/client-go/kubernetes.NewForConfig"}},
		{"helm with a client", names("helm.sh/helm/v3/pkg/engine.RenderWithClientProvider", "helm.sh/helm/v3/pkg/engine.New"),
			[]string{"helm.sh/helm/v3/pkg/engine.RenderWithClient", "helm.sh/helm/v3/pkg/engine.New"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, clusterClients(tc.bin)); diff != "" {
				t.Errorf("clusterClients (-want +got):\n%s", diff)
			}
		})
	}
}
