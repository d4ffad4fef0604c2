package imagebuild

import (
	"debug/buildinfo"
	"io"
	"path"
)

// AddedFile is a regular file a build added to an image: what an SBOM
// lists. The digest is computed while the layer streams, so listing costs
// no second read of the context.
type AddedFile struct {
	Path   string // absolute path in the image
	SHA256 string // hex digest of the content
	Size   int64
	Mode   int64
	// Go is the build information of a Go executable, nil for other files.
	Go *GoBinary
}

// GoBinary is what a Go executable says about how it was built.
type GoBinary struct {
	GoVersion string
	Main      Module
	Deps      []Module
}

// Module is one Go module compiled into a binary.
type Module struct {
	Path, Version, Sum string
}

// PlatformContents lists the files the recipe's layers add for one
// platform, in layer order.
type PlatformContents struct {
	Platform string
	Files    []AddedFile
}

// executableMinSize skips files too small to be a Go binary.
const executableMinSize = 4 << 10

// goBinary reads the build information of an executable Go binary, nil
// for anything else; it reads only the headers and the build info section.
func goBinary(r io.ReaderAt, mode, size int64) *GoBinary {
	if mode&0o111 == 0 || size < executableMinSize {
		return nil
	}
	bi, err := buildinfo.Read(r)
	if err != nil {
		return nil
	}
	g := &GoBinary{GoVersion: bi.GoVersion, Main: Module{Path: bi.Main.Path, Version: bi.Main.Version, Sum: bi.Main.Sum}}
	if g.Main.Path == "" {
		g.Main.Path = bi.Path
	}
	for _, d := range bi.Deps {
		if d.Replace != nil {
			d = d.Replace
		}
		g.Deps = append(g.Deps, Module{Path: d.Path, Version: d.Version, Sum: d.Sum})
	}
	return g
}

// contents lists what the layers of steps add, once they are uploaded.
func contents(steps []imageStep) []AddedFile {
	var out []AddedFile
	for _, l := range countedLayers(steps) {
		l.mu.Lock()
		out = append(out, l.files...)
		l.mu.Unlock()
	}
	return out
}

func imagePath(name string) string { return path.Join("/", name) }
