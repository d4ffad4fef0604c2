// Command localkms serves local-kms, an AWS KMS emulator, on a loopback
// address: its own binary listens on every interface, and the tests must
// not. The KMS signing tests (shared/attest) start it through
// test/emulator.StartKMS.
package main

import (
	"flag"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"

	kms "github.com/nsmithuk/local-kms/src"
	"github.com/nsmithuk/local-kms/src/config"
	"github.com/nsmithuk/local-kms/src/data"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "loopback address to listen on")
	dir := flag.String("data", "", "directory of the key database (required)")
	flag.Parse()
	host, _, err := net.SplitHostPort(*addr)
	if err != nil || !net.ParseIP(host).IsLoopback() {
		log.Fatalf("localkms: -addr %q: a loopback address is required", *addr)
	}
	if *dir == "" {
		log.Fatal("localkms: -data is required")
	}
	config.AWSAccountId, config.AWSRegion = "111122223333", "us-east-1"
	if config.DatabasePath, err = filepath.Abs(*dir); err != nil {
		log.Fatal(err)
	}
	db := data.NewDatabase(config.DatabasePath)
	defer db.Close()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	// The test reads the bound address from the first line.
	os.Stdout.WriteString(ln.Addr().String() + "\n")
	log.Fatal(http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kms.HandleRequest(w, r, db)
	})))
}
