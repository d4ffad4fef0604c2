package build

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/coalesce"
	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/retry"
	"github.com/conveyor-gitops/conveyor/shared/state"
)

// DefaultLatestOnlyWait is how long the first build of a burst for an app
// with build.latestOnly waits, through the queue, for newer pushes to be
// received: long enough for a burst of pushes, short against a build.
const DefaultLatestOnlyWait = 3 * time.Second

// supersededRetention is how long the record of a superseded build stays.
const supersededRetention = 30 * 24 * time.Hour

// SupersededKey is the record of app's build of commit skipped because a
// newer push of the same branch was waiting: kept apart from Key, so a
// skipped build never reads as a built one.
func SupersededKey(app, commit string) string { return "build-superseded/" + app + "/" + commit }

// Superseded is the record under SupersededKey.
type Superseded struct {
	App    string    `json:"app"`
	Branch string    `json:"branch"`
	Commit string    `json:"commit"`
	By     string    `json:"by"`
	At     time.Time `json:"at"`
}

// latestApp builds a for push p, unless the app builds only the latest
// commit of its branch and a newer push is waiting: then the build is
// recorded superseded. The first build of a burst waits LatestOnlyWait
// (retry.Defer) for the rest of the burst to be received.
func (b *Builder) latestApp(ctx context.Context, a *config.App, p *event.Push, received time.Time, log *slog.Logger) error {
	if !a.Build.LatestOnly || b.Latest == nil {
		return b.buildApp(ctx, a, p, log)
	}
	c := coalesce.Coalescer{Store: b.Latest}
	// Conveyor's ingress stamped the receipt: the order pushes reached it
	// in, never a time the pusher wrote.
	w := coalesce.Work{Key: "build/" + a.Name + "/" + p.Branch, ID: p.After, Revision: p.After, SourceTime: received}
	d, err := c.Decide(ctx, w, b.LatestOnlyWait, receivedLater)
	if err != nil {
		return fmt.Errorf("coalescing the build of %s at %.12s: %w", a.Name, p.After, err)
	}
	switch d.Verdict {
	case coalesce.Wait:
		log.InfoContext(ctx, "build settling: waits for newer pushes", "wait", d.Wait.String())
		return retry.Defer(fmt.Errorf("settling the build of %s at %.12s for %s", a.Name, p.After, d.Wait), d.Wait)
	case coalesce.Supersede:
		out, _ := json.Marshal(Superseded{App: a.Name, Branch: p.Branch, Commit: p.After, By: d.Newer.Work, At: time.Now().UTC()})
		if err := b.Idem.Complete(ctx, SupersededKey(a.Name, p.After), out, supersededRetention); err != nil {
			return fmt.Errorf("recording the superseded build of %s at %.12s: %w", a.Name, p.After, err)
		}
		log.InfoContext(ctx, "build superseded", "by", d.Newer.Work)
		return nil
	}
	return b.buildApp(ctx, a, p, log)
}

// receivedLater orders builds of one branch by when the ingress received
// their pushes.
func receivedLater(_ context.Context, wanted state.Latest, w coalesce.Work) (bool, error) {
	return wanted.SourceTime.After(w.SourceTime), nil
}
