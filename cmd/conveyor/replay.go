package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/conveyor-gitops/conveyor/shared/local"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/queue/sqlitequeue"
	"github.com/conveyor-gitops/conveyor/shared/replay"
	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// replayFlags are the flags every replay subcommand shares.
type replayFlags struct {
	dataDir *string
	out     *outputFlag
	queue   *string
	kind    *string
	app     *string
	since   *string
	errText *string
	stack   stackFlag
}

func addReplayFlags(fs *pflag.FlagSet) replayFlags {
	return replayFlags{
		dataDir: fs.String("data-dir", local.DefaultDataDir, "the local runtime's data directory"),
		out:     addOutputFlag(fs),
		queue:   fs.String("queue", "", "only this work queue (builds, images, promotions, approvals)"),
		kind:    fs.String("kind", "", "only this envelope kind (push, image, promotion, review)"),
		app:     fs.String("app", "", "only this app"),
		since:   fs.String("since", "", "only dead-lettered since: a duration back from now (24h) or an RFC 3339 time"),
		errText: fs.String("error", "", "only reasons containing this text (case-insensitive)"),
		stack:   addStackFlag(fs),
	}
}

func (r replayFlags) filter(now time.Time, ids []string) (replay.Filter, error) {
	f := replay.Filter{Queue: *r.queue, Kind: *r.kind, App: *r.app, Error: *r.errText, IDs: ids}
	if f.Queue != "" {
		if _, ok := queue.Lookup(f.Queue); !ok {
			return f, fmt.Errorf("%w: unknown queue %q", errUsage, f.Queue)
		}
	}
	if s := *r.since; s != "" {
		if d, err := time.ParseDuration(s); err == nil {
			f.Since = now.Add(-d)
		} else if t, err := time.Parse(time.RFC3339, s); err == nil {
			f.Since = t
		} else {
			return f, fmt.Errorf("%w: --since %q is neither a duration nor an RFC 3339 time", errUsage, s)
		}
	}
	return f, nil
}

// replayCommand is `conveyor replay`: the dead-letter queues.
func replayCommand() *cobra.Command {
	return group("replay", "list, show or redrive dead-lettered events (a data directory, or --stack NAME)",
		leaf("list", "list the dead letters the filters match", runReplayList),
		leaf("show ID", "show one dead letter: its reason, attempts and envelope", runReplayShow),
		leaf("redrive [ID...]", "move the dead letters the filters match back to their work queues", runReplayRedrive),
	)
}

func runReplayList(fs *pflag.FlagSet) runFunc {
	rf := addReplayFlags(fs)
	return func(ctx context.Context, stdout, stderr io.Writer) error {
		if fs.NArg() > 0 {
			return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
		}
		if err := rf.out.resolve(stderr); err != nil {
			return err
		}
		f, err := rf.filter(time.Now(), nil)
		if err != nil {
			return err
		}
		dead, closeDB, err := rf.open(ctx, stderr)
		if err != nil {
			return err
		}
		defer closeDB()
		return replayList(ctx, dead, f, rf.out, stdout)
	}
}

func runReplayShow(fs *pflag.FlagSet) runFunc {
	rf := addReplayFlags(fs)
	return func(ctx context.Context, stdout, stderr io.Writer) error {
		if fs.NArg() != 1 {
			return fmt.Errorf("%w: conveyor replay show ID", errUsage)
		}
		if err := rf.out.resolve(stderr); err != nil {
			return err
		}
		if _, err := rf.filter(time.Now(), nil); err != nil {
			return err
		}
		dead, closeDB, err := rf.open(ctx, stderr)
		if err != nil {
			return err
		}
		defer closeDB()
		return replayShow(ctx, dead, fs.Arg(0), rf.out, stdout)
	}
}

func runReplayRedrive(fs *pflag.FlagSet) runFunc {
	rf := addReplayFlags(fs)
	var ids multiFlag
	dryRun := fs.Bool("dry-run", false, "print what would move, move nothing")
	rate := fs.Float64("rate", 0, "at most this many messages per second (0: no limit)")
	limit := fs.Int("limit", 0, "move at most this many messages (0: no limit)")
	all := fs.Bool("all", false, "allow redriving every dead letter when no filter is given")
	fs.Var(&ids, "id", "a message or envelope id (repeatable; ids may also be given as arguments)")
	return func(ctx context.Context, stdout, stderr io.Writer) error {
		if err := rf.out.resolve(stderr); err != nil {
			return err
		}
		if *rate < 0 || *limit < 0 {
			return fmt.Errorf("%w: --rate and --limit must not be negative", errUsage)
		}
		f, err := rf.filter(time.Now(), append(ids, fs.Args()...))
		if err != nil {
			return err
		}
		if !*all && isZero(f) {
			return fmt.Errorf("%w: give a filter (--queue, --kind, --app, --since, --error, ids) or --all to redrive every dead letter", errUsage)
		}
		dead, closeDB, err := rf.open(ctx, stderr)
		if err != nil {
			return err
		}
		defer closeDB()
		opts := replay.Options{DryRun: *dryRun, Rate: *rate, Limit: *limit}
		if isTerminal(stderr) && rf.out.table() {
			opts.Progress = func(done, total int) { progressBar(stderr, done, total) }
		}
		s, err := replay.Redrive(ctx, dead, f, opts)
		if opts.Progress != nil && s.Matched > 0 && !s.DryRun {
			fmt.Fprintln(stderr)
		}
		if !rf.out.table() {
			if jerr := rf.out.write(stdout, s); jerr != nil {
				return jerr
			}
		} else {
			printSummary(stdout, stderr, s)
		}
		if err != nil {
			return err
		}
		if s.Failed > 0 {
			return fmt.Errorf("%d of %d messages failed to move", s.Failed, s.Moved+s.Skipped+s.Failed)
		}
		return nil
	}
}

func isZero(f replay.Filter) bool {
	return f.Queue == "" && f.Kind == "" && f.App == "" && f.Since.IsZero() && f.Error == "" && len(f.IDs) == 0
}

// open opens the dead-letter queues: the stack's on AWS, the data
// directory's otherwise.
func (r replayFlags) open(ctx context.Context, stderr io.Writer) (replay.Dead, func(), error) {
	if name, ok := r.stack.name(); ok {
		dead, err := openStackDead(ctx, name, stderr)
		return dead, func() {}, err
	}
	return openDead(ctx, *r.dataDir)
}

func openDead(ctx context.Context, dataDir string) (*replay.Embedded, func(), error) {
	if !sqlitedb.HasData(dataDir) {
		return nil, nil, fmt.Errorf("no Conveyor data in %s (start `conveyor dev --data-dir %s` first)", dataDir, dataDir)
	}
	db, err := sqlitedb.Open(ctx, dataDir)
	if err != nil {
		return nil, nil, err
	}
	b, err := sqlitequeue.Open(ctx, db, queue.Topology)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return replay.NewEmbedded(b), func() { db.Close() }, nil
}

func replayList(ctx context.Context, dead replay.Dead, f replay.Filter, out *outputFlag, stdout io.Writer) error {
	all, err := dead.List(ctx, f.Queue)
	if err != nil {
		return err
	}
	// SQS hides what it lists: give it back at once, as nothing moves.
	defer release(ctx, dead, all)
	recs := []replay.Record{}
	for _, r := range all {
		if f.Match(r) {
			recs = append(recs, r)
		}
	}
	if !out.table() {
		return out.write(stdout, recs)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tQUEUE\tKIND\tAPP\tRECEIVES\tDEAD AT\tREASON")
	for _, r := range recs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", r.ID, r.Queue, dash(r.Kind), dash(r.App), r.ReceiveCount,
			r.DeadAt.Local().Format(time.DateTime), shorten(r.Reason, 60))
	}
	return tw.Flush()
}

// release makes listed dead letters visible again, on a Dead that hides
// what it lists.
func release(ctx context.Context, dead replay.Dead, rs []replay.Record) {
	if r, ok := dead.(replay.Releaser); ok {
		_ = r.Release(context.WithoutCancel(ctx), rs)
	}
}

// getDead returns the dead letter with message or envelope id: directly
// when the Dead can (the embedded queue), else from a listing (SQS).
func getDead(ctx context.Context, dead replay.Dead, id string) (replay.Record, error) {
	if g, ok := dead.(interface {
		Get(ctx context.Context, id string) (replay.Record, error)
	}); ok {
		return g.Get(ctx, id)
	}
	all, err := dead.List(ctx, "")
	if err != nil {
		return replay.Record{}, err
	}
	defer release(ctx, dead, all)
	for _, r := range all {
		if r.ID == id || (r.Envelope != nil && r.Envelope.ID == id) {
			return r, nil
		}
	}
	return replay.Record{}, fmt.Errorf("dead letter %s: %w", id, replay.ErrNotDead)
}

func replayShow(ctx context.Context, dead replay.Dead, id string, out *outputFlag, stdout io.Writer) error {
	r, err := getDead(ctx, dead, id)
	if errors.Is(err, replay.ErrNotDead) {
		return fmt.Errorf("%s is not a dead letter (already redriven, deleted, or unknown)", id)
	}
	if err != nil {
		return err
	}
	if !out.table() {
		return out.write(stdout, r)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 1, ' ', 0)
	fmt.Fprintf(tw, "id:\t%s\n", r.ID)
	fmt.Fprintf(tw, "queue:\t%s (dead letter in %s)\n", r.Queue, queue.DeadLetterName(r.Queue))
	fmt.Fprintf(tw, "kind:\t%s\n", dash(r.Kind))
	fmt.Fprintf(tw, "app:\t%s\n", dash(r.App))
	fmt.Fprintf(tw, "trace id:\t%s\n", dash(r.TraceID))
	fmt.Fprintf(tw, "receives:\t%d\n", r.ReceiveCount)
	fmt.Fprintf(tw, "sent at:\t%s\n", r.SentAt.Format(time.RFC3339))
	fmt.Fprintf(tw, "dead at:\t%s\n", r.DeadAt.Format(time.RFC3339))
	fmt.Fprintf(tw, "reason:\t%s\n", r.Reason)
	if r.FirstError != "" {
		fmt.Fprintf(tw, "first error:\t%s\n", r.FirstError)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.History) > 0 {
		fmt.Fprintln(stdout, "\nearlier failures (each redriven):")
		for i, h := range r.History {
			fmt.Fprintf(stdout, "  %d. %s, after %d receives, redriven %s: %s\n", i+1,
				h.DeadAt.Format(time.RFC3339), h.ReceiveCount, h.RedrivenAt.Format(time.RFC3339), h.Reason)
		}
	}
	if env := r.Envelope; env != nil {
		fmt.Fprintf(stdout, "\nenvelope: v%d id %s, source %s", env.Version, env.ID, env.Source)
		if env.DeliveryID != "" {
			fmt.Fprintf(stdout, ", delivery %s", env.DeliveryID)
		}
		fmt.Fprintf(stdout, ", received %s, replayed %d times\npayload:\n", env.ReceivedAt.Format(time.RFC3339), env.Replayed)
		fmt.Fprintln(stdout, pretty(env.Payload))
		return nil
	}
	fmt.Fprintln(stdout, "\nbody (not a Conveyor envelope):")
	fmt.Fprintln(stdout, pretty(r.Body))
	return nil
}

func printSummary(stdout, stderr io.Writer, s replay.Summary) {
	for _, e := range s.Errors {
		fmt.Fprintf(stderr, "failed: %s\n", e)
	}
	switch {
	case s.DryRun:
		fmt.Fprintf(stdout, "dry run: would move %d of %d matching dead letters\n", len(s.IDs), s.Matched)
		for _, id := range s.IDs {
			fmt.Fprintf(stdout, "  %s\n", id)
		}
	case s.MoveTask != "":
		fmt.Fprintf(stdout, "move task %s started for about %d messages\n", s.MoveTask, s.Moved)
	}
	fmt.Fprintf(stdout, "moved %d, skipped %d, failed %d\n", s.Moved, s.Skipped, s.Failed)
}

// progressBar redraws one line: [=====>    ] 12/40.
func progressBar(w io.Writer, done, total int) {
	const width = 30
	filled := width
	if total > 0 {
		filled = done * width / total
	}
	bar := strings.Repeat("=", filled)
	if filled < width {
		bar += ">" + strings.Repeat(" ", width-filled-1)
	}
	fmt.Fprintf(w, "\r[%s] %d/%d", bar, done, total)
}

func pretty(b []byte) string {
	var buf bytes.Buffer
	if json.Indent(&buf, b, "", "  ") == nil {
		return buf.String()
	}
	return string(b)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// shorten keeps the first line of s, at most n characters of it.
func shorten(s string, n int) string {
	s, _, cut := strings.Cut(s, "\n")
	if utf8.RuneCountInString(s) > n {
		s, cut = string([]rune(s)[:n-1]), true
	}
	if cut {
		s += "…"
	}
	return s
}
