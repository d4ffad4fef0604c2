// Command conveyor is Conveyor's operator CLI: the local runtime (dev), the
// demo, config validation, and the operator's commands (status, history,
// metrics, queues, promote, rollback, reconcile, replay) on a local data
// directory or, with --stack NAME, on a deployed AWS stack.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/conveyor-gitops/conveyor/shared/logging"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// errUsage marks a command-line mistake: exit status 2.
var errUsage = errors.New("usage")

// Exit statuses, as the root help and the README document them.
const (
	exitOK      = 0
	exitFailed  = 1
	exitUsage   = 2
	exitCodeDoc = `Exit codes:
  0  success
  1  the command ran and failed (the reason is on stderr)
  2  the command line is wrong: unknown command, flag or argument`
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the command line args on a new command tree (cobra commands
// keep their parsed flags, so each run gets its own) and returns the exit
// status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	// Flags such as --gitops may hold a URL with a token.
	err = logging.RedactError(err)
	name := root.Name()
	if cmd != nil {
		name = cmd.CommandPath()
	}
	fmt.Fprintf(stderr, "%s: %v\n", name, err)
	if errors.Is(err, errUsage) {
		return exitUsage
	}
	return exitFailed
}

func newRoot() *cobra.Command {
	root := group("conveyor", "Conveyor's operator CLI: the local runtime, the demo, and the commands that inspect and steer a pipeline",
		leaf("dev", "run the local runtime: ingress, queues, state and functions in one process", runDev),
		leaf("demo", "run the pipeline end to end on throwaway repositories and print what happens", runDemo),
		leaf("queues", "print visible / in-flight / dead-lettered counts per queue", runQueues),
		leaf("validate [--repo DIR] [FILE]", "check a conveyor.yaml (default ./conveyor.yaml, or DIR/conveyor.yaml) and print line-numbered errors", runValidate),
		leaf("board", "serve the pipeline board of a data directory, or open a deployed stack's (--stack) through a local address that signs each request with your AWS credentials", runBoard),
		leaf("build", "build an image from a directory without a container runtime and print its reference", runBuild),
		leaf("fsck", "check the data directory (database, registry journal and blobs); --repair sets damage aside in lost+found", runFsck),
		leaf("gc [--dry-run] IMAGE-REPO...", "delete sha-* images no release-<env> tag protects (the lifecycle rule, for a registry without one)", runGC),
		leaf("lifecycle-policy [--build-days N] [--untagged-days N]", "print the ECR lifecycle policy of gc's rule: release-* images never expire, other builds do", runLifecyclePolicy),
		leaf("init", "propose a conveyor.yaml for a GitOps repository from its manifests, and import what each environment runs", runInit),
		leaf("status", "app × environment: released digest, source commit, open PR, freeze", runStatus),
		leaf("history APP", "commit → image → each environment's PR, approver and times", runHistory),
		leaf("metrics", "DORA metrics: deployment frequency, lead time, change failure rate, time to restore", runMetrics),
		prCommand(),
		leaf("promote APP ENV IMAGE[:TAG]@DIGEST", "promote a digest by hand: open or update its pull request", runPromote),
		leaf("rollback APP ENV [--to DIGEST]", "propose the previous released digest again", runRollback),
		leaf("reconcile", "make the records and queues equal the forge and git: record lost merges, reverts and out-of-band edits, enqueue missed promotions and unbuilt commits", runReconcile),
		replayCommand(),
		leaf("schema", "print the JSON Schema of conveyor.yaml, for editors and CI", runSchema),
		leaf("version", "print the version, the VCS revision it was built from, and the Go toolchain", runVersion),
	)
	root.Long = root.Short + ".\n\nEach command works on a local data directory (conveyor dev's) or, with --stack NAME, on a deployed AWS stack.\n\n" + exitCodeDoc
	root.SilenceErrors, root.SilenceUsage = true, true
	// Mistakes in flags are usage errors (exit 2), whichever command.
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w: %v\nRun '%s --help' for usage.", errUsage, err, c.CommandPath())
	})
	return root
}

// runFunc is a command's body, run once its flags are parsed; it reads its
// positional arguments from the flag set its setup was given.
type runFunc func(ctx context.Context, stdout, stderr io.Writer) error

// leaf is a command whose setup defines its flags and returns its body.
func leaf(use, short string, setup func(fs *pflag.FlagSet) runFunc) *cobra.Command {
	c := &cobra.Command{Use: use, Short: short, Args: cobra.ArbitraryArgs}
	body := setup(c.Flags())
	if c.Flags().Lookup("output") != nil {
		_ = c.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{formatTable, formatJSON, formatYAML}, cobra.ShellCompDirectiveNoFileComp))
	}
	c.RunE = func(c *cobra.Command, _ []string) error {
		return body(c.Context(), c.OutOrStdout(), c.ErrOrStderr())
	}
	return c
}

// group is a command that only holds subcommands: without one it prints
// its usage and fails as a usage error; with an unknown one it suggests
// the nearest.
func group(use, short string, subs ...*cobra.Command) *cobra.Command {
	// Two edits away, as git suggests ("stauts" → status).
	c := &cobra.Command{Use: use, Short: short, Args: unknownCommand, SuggestionsMinimumDistance: 2}
	c.RunE = func(c *cobra.Command, _ []string) error {
		fmt.Fprint(c.ErrOrStderr(), c.UsageString())
		return fmt.Errorf("%w: %s needs a command", errUsage, c.CommandPath())
	}
	c.AddCommand(subs...)
	return c
}

// unknownCommand refuses an argument where a group expects a subcommand,
// suggesting the nearest names as git does.
func unknownCommand(c *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], c.CommandPath())
	if s := c.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t") + "\n"
	}
	return fmt.Errorf("%w: %s\nRun '%s --help' for usage.", errUsage, msg, c.CommandPath())
}
