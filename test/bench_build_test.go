package test

import (
	"archive/tar"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/imagebuild"
	"github.com/google/go-containerregistry/pkg/name"
)

// benchContext writes 2,000 small files and one 50 MB incompressible file,
// and the same content as a tar for crane.
func benchContext(b *testing.B) (dir, tarPath string) {
	b.Helper()
	root := b.TempDir()
	dir = filepath.Join(root, "ctx")
	for i := 0; i < 2000; i++ {
		p := filepath.Join(dir, "static", fmt.Sprintf("d%02d", i%40), fmt.Sprintf("f%04d.txt", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(strings.Repeat(fmt.Sprintf("file %d\n", i), 20)), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	big := make([]byte, 50<<20)
	_, _ = rand.Read(big)
	if err := os.WriteFile(filepath.Join(dir, "big.bin"), big, 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nCOPY . /app/\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	tarPath = filepath.Join(root, "ctx.tar")
	if err := writeTar(dir, tarPath); err != nil {
		b.Fatal(err)
	}
	return dir, tarPath
}

func writeTar(dir, out string) error {
	var paths []string
	if err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			paths = append(paths, p)
		}
		return err
	}); err != nil {
		return err
	}
	sort.Strings(paths)
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	for _, p := range paths {
		rel, _ := filepath.Rel(dir, p)
		fi, _ := os.Stat(p)
		hdr := &tar.Header{Name: "app/" + filepath.ToSlash(rel), Mode: 0o644, Size: fi.Size(), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		src, err := os.Open(p)
		if err != nil {
			return err
		}
		_, err = io.Copy(tw, src)
		src.Close()
		if err != nil {
			return err
		}
	}
	return tw.Close()
}

// BenchmarkBuildVsCrane builds and pushes the same 58 MB context with
// Conveyor and with `crane append` of a pre-made tar, to the same real
// distribution registry, and reports both times and their ratio. Every
// iteration pushes to fresh repositories so neither side skips uploads.
func BenchmarkBuildVsCrane(b *testing.B) {
	crane := tool(b, "crane")
	host := startDistribution(b, "", "")
	dir, tarPath := benchContext(b)
	recipe, err := imagebuild.ParseDockerfile("Dockerfile", strings.NewReader("FROM scratch\nCOPY . /app/\n"), nil)
	if err != nil {
		b.Fatal(err)
	}
	rev := "0123456789abcdef0123456789abcdef01234567"
	created := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var ours, theirs time.Duration
	var firstDigest string
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		repo, _ := name.NewRepository(fmt.Sprintf("%s/bench/conveyor-%d", host, i))
		start := time.Now()
		res, err := imagebuild.Build(context.Background(), imagebuild.Options{ContextDir: dir, Recipe: recipe, Repository: repo, Revision: rev, Created: created})
		if err != nil {
			b.Fatal(err)
		}
		ours += time.Since(start)
		if firstDigest == "" {
			firstDigest = res.Digest.String()
		} else if res.Digest.String() != firstDigest {
			b.Fatalf("run %d digest %s, first run %s: not reproducible", i, res.Digest, firstDigest)
		}

		start = time.Now()
		out, err := exec.Command(crane, "append", "--insecure", "-f", tarPath, "-t", fmt.Sprintf("%s/bench/crane-%d:x", host, i)).CombinedOutput()
		if err != nil {
			b.Fatalf("crane append: %v\n%s", err, out)
		}
		theirs += time.Since(start)
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(ours.Seconds()/n, "conveyor-s/op")
	b.ReportMetric(theirs.Seconds()/n, "crane-s/op")
	b.ReportMetric(ours.Seconds()/theirs.Seconds(), "ratio")
}
