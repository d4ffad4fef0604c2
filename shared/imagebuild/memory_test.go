package imagebuild

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
)

const (
	memRegistryEnv = "CONVEYOR_BUILD_MEMTEST_REGISTRY"
	memDirEnv      = "CONVEYOR_BUILD_MEMTEST_DIR"
	bigFileSize    = 500 << 20
	maxGrowthKB    = 64 << 10
)

// TestBuildMemoryIsFlat builds a context holding one 500 MB file in a child
// process and checks that the child's peak RSS grew by less than 64 MB: files
// are streamed, never held in memory.
func TestBuildMemoryIsFlat(t *testing.T) {
	if host := os.Getenv(memRegistryEnv); host != "" {
		memoryChild(t, host, os.Getenv(memDirEnv))
		return
	}
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	// Sparse: no disk used, but 500 MB to read, tar, hash and gzip twice.
	if err := f.Truncate(bigFileSize); err != nil {
		t.Fatal(err)
	}
	f.Close()
	reg := newRegistry(t, registry.WithBlobHandler(registry.NewDiskBlobHandler(t.TempDir())))

	start := time.Now()
	cmd := exec.Command(os.Args[0], "-test.run=^TestBuildMemoryIsFlat$", "-test.count=1")
	cmd.Env = append(os.Environ(), memRegistryEnv+"="+reg.host, memDirEnv+"="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var baseline, peak int64
	for _, line := range strings.Split(string(out), "\n") {
		if _, err := fmt.Sscanf(line, "memtest baseline_kb=%d hwm_kb=%d", &baseline, &peak); err == nil {
			break
		}
	}
	if peak == 0 {
		t.Fatalf("child printed no measurement:\n%s", out)
	}
	growth := peak - baseline
	t.Logf("500 MB context built and pushed in %v; RSS %d kB at start, peak %d kB, growth %d kB", time.Since(start).Round(time.Millisecond), baseline, peak, growth)
	if growth > maxGrowthKB {
		t.Errorf("peak RSS grew by %d kB, want under %d kB", growth, maxGrowthKB)
	}
}

func memoryChild(t *testing.T, host, dir string) {
	baseline := procStatusKB(t, "VmRSS")
	repo, err := name.NewRepository(host+"/acme/big", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	recipe, err := ParseDockerfile("Dockerfile", strings.NewReader("FROM scratch\nCOPY big.bin /data/\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Build(context.Background(), Options{
		ContextDir: dir, Recipe: recipe, Repository: repo,
		Revision: revision, Created: commitTime, Keychain: authn.NewMultiKeychain(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Pushed || res.Size < 1<<10 {
		t.Fatalf("Build() = %+v", res)
	}
	fmt.Printf("memtest baseline_kb=%d hwm_kb=%d\n", baseline, procStatusKB(t, "VmHWM"))
}

// procStatusKB reads a "Key:  123 kB" line of /proc/self/status.
func procStatusKB(t *testing.T, key string) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), key+":"); ok {
			n, err := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("%s not in /proc/self/status", key)
	return 0
}

// BenchmarkBuild builds and pushes a context of 2,000 small files and one
// 50 MB file (incompressible) to a local registry.
func BenchmarkBuild(b *testing.B) {
	dir := b.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	var total int64
	for i := range 2000 {
		p := filepath.Join(dir, "src", fmt.Sprintf("pkg%02d", i%50), fmt.Sprintf("file%04d.go", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		content := []byte(strings.Repeat(fmt.Sprintf("// line of file %d\n", i), 20+i%100))
		total += int64(len(content))
		if err := os.WriteFile(p, content, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	big := make([]byte, 50<<20)
	for i := 0; i < len(big); i += 8 {
		v := rng.Uint64()
		for j := 0; j < 8; j++ {
			big[i+j] = byte(v >> (8 * j))
		}
	}
	total += int64(len(big))
	if err := os.WriteFile(filepath.Join(dir, "big.bin"), big, 0o644); err != nil {
		b.Fatal(err)
	}
	big = nil
	reg := newRegistry(b)
	repo := reg.repo(b, "acme/bench")
	recipe, err := ParseDockerfile("Dockerfile", strings.NewReader("FROM scratch\nCOPY src /src\nCOPY big.bin /data/\n"), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		// Another commit time each round: new layers, a real push.
		res, err := Build(context.Background(), Options{
			ContextDir: dir, Recipe: recipe, Repository: repo,
			Revision: revision, Created: commitTime.Add(time.Duration(i) * time.Second), Keychain: authn.NewMultiKeychain(),
		})
		if err != nil {
			b.Fatal(err)
		}
		if !res.Pushed {
			b.Fatal("not pushed")
		}
	}
	b.ReportMetric(float64(total*int64(b.N))/1e6/b.Elapsed().Seconds(), "MB/s")
}
