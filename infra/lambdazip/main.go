// Command lambdazip packs a Lambda bootstrap binary into a zip with a fixed
// timestamp and mode, so that the same binary always gives the same zip
// (and SAM sees no change when nothing changed). It refuses a bootstrap
// that links cluster-client code, and a zip over 25 MB.
package main

import (
	"archive/zip"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

func main() {
	out := flag.String("o", "", "zip file to write")
	flag.Parse()
	if *out == "" || flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: lambdazip -o FUNCTION.zip BOOTSTRAP")
		os.Exit(2)
	}
	if err := pack(*out, flag.Arg(0)); err != nil {
		fmt.Fprintf(os.Stderr, "lambdazip: %v\n", err)
		os.Exit(1)
	}
}

// maxZip is Lambda's limit on a directly uploaded deployment package.
const maxZip = 50 << 20

// budgetZip is Conveyor's own limit per function, well under maxZip.
const budgetZip = 25 << 20

func pack(out, bootstrap string) error {
	if err := checkClusterFree(bootstrap); err != nil {
		return err
	}
	in, err := os.Open(bootstrap)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(out), ".lambdazip-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	zw := zip.NewWriter(tmp)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate, Modified: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, in); err != nil {
		return fmt.Errorf("compressing %s: %w", bootstrap, err)
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	if info, err := os.Stat(tmp.Name()); err != nil {
		return err
	} else if info.Size() > budgetZip {
		return fmt.Errorf("%s zips to %d bytes, over the %d-byte budget per function (Lambda allows %d)", bootstrap, info.Size(), budgetZip, maxZip)
	}
	return os.Rename(tmp.Name(), out)
}
