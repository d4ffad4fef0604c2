package main

import (
	"strings"
	"testing"
)

// TestCommandLineConventions runs the command tree as a user would: help
// on stdout with exit 0, mistakes on stderr with exit 2 and a suggestion,
// completion scripts on stdout.
func TestCommandLineConventions(t *testing.T) {
	for _, tc := range []struct {
		name       string
		args       []string
		code       int
		stdout     []string // each in stdout
		stderr     []string // each in stderr
		noStdout   bool
		stdoutNone string // not in stdout
	}{
		{name: "root help", args: []string{"--help"}, stdout: []string{"Usage:", "status", "promote", "Exit codes:", "2  the command line is wrong"}},
		{name: "help command", args: []string{"help"}, stdout: []string{"Available Commands:"}},
		{name: "command help", args: []string{"status", "--help"}, stdout: []string{"conveyor status [flags]", "--data-dir"}},
		{name: "subcommand help", args: []string{"pr", "show", "-h"}, stdout: []string{"conveyor pr show N"}},
		{name: "no command", args: nil, code: 2, stderr: []string{"Usage:", "needs a command"}, noStdout: true},
		{name: "typo", args: []string{"stauts"}, code: 2, stderr: []string{`unknown command "stauts"`, "Did you mean this?\n\tstatus"}, noStdout: true},
		{name: "subcommand typo", args: []string{"pr", "lst"}, code: 2, stderr: []string{`unknown command "lst" for "conveyor pr"`, "list"}, noStdout: true},
		{name: "group without subcommand", args: []string{"replay"}, code: 2, stderr: []string{"conveyor replay needs a command"}, noStdout: true},
		{name: "unknown flag", args: []string{"queues", "--nope"}, code: 2, stderr: []string{"unknown flag: --nope", "conveyor queues --help"}, noStdout: true},
		{name: "bad flag value", args: []string{"metrics", "--since", "soon"}, code: 2, stderr: []string{"--since"}, noStdout: true},
		{name: "missing argument", args: []string{"history"}, code: 2, stderr: []string{"conveyor history APP"}, noStdout: true},
		{name: "runtime failure", args: []string{"queues", "--data-dir", t.TempDir()}, code: 1, stderr: []string{"no Conveyor data"}, noStdout: true},
		{name: "completion bash", args: []string{"completion", "bash"}, stdout: []string{"bash completion", "conveyor"}},
		{name: "completion zsh", args: []string{"completion", "zsh"}, stdout: []string{"#compdef conveyor"}},
		{name: "completion fish", args: []string{"completion", "fish"}, stdout: []string{"complete -c conveyor"}},
		{name: "completion powershell", args: []string{"completion", "powershell"}, stdout: []string{"Register-ArgumentCompleter"}},
		// The completion script asks the binary for candidates: the
		// subcommands are what it offers.
		{name: "completion candidates", args: []string{"__complete", "pr", ""}, stdout: []string{"list", "show", "approve", "merge", "close"}},
		{name: "output candidates", args: []string{"__complete", "status", "-o", ""}, stdout: []string{"table", "json", "yaml"}},
		{name: "root candidates", args: []string{"__complete", "st"}, stdout: []string{"status"}, stdoutNone: "promote"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out, errOut)
			}
			for _, w := range tc.stdout {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tc.stderr {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
			if tc.noStdout && out != "" {
				t.Errorf("stdout = %q, want nothing (errors go to stderr)", out)
			}
			if tc.stdoutNone != "" && strings.Contains(out, tc.stdoutNone) {
				t.Errorf("stdout has %q:\n%s", tc.stdoutNone, out)
			}
		})
	}
}
