package emulator

import (
	"net"
	"os/exec"
	"strings"
	"testing"
)

// TestLaunchRefusesAnAnswerFromAnotherListener reproduces the port race:
// something else holds the port, so the dial answers while the emulator
// dies of EADDRINUSE. launch must report the death, not the answer.
func TestLaunchRefusesAnAnswerFromAnotherListener(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := l.Addr().(*net.TCPAddr).Port
	// Dies a moment after starting, as fauxqs does when its bind fails.
	p, err := launch(exec.Command("sh", "-c", "sleep 0.05; echo EADDRINUSE >&2; exit 1"), port)
	if err == nil {
		p.stop()
		t.Fatal("launch took the other listener's answer for the emulator's")
	}
	if !strings.Contains(err.Error(), "EADDRINUSE") || !strings.Contains(err.Error(), "exited") {
		t.Fatalf("launch error = %v, want the exit and the process's output", err)
	}
}

// TestLaunchKeepsALiveServer is the other side: a process that stays up
// after its port answers is taken as started.
func TestLaunchKeepsALiveServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	p, err := launch(exec.Command("sleep", "5"), port)
	if err != nil {
		t.Fatalf("launch of a live process: %v", err)
	}
	p.stop()
	select {
	case <-p.exited:
	default:
		t.Fatal("stop returned with the process still running")
	}
}
