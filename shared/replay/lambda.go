package replay

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// Request is the input of functions/replay, e.g.
//
//	{"queue":"promotions","kind":"","app":"","since":"2026-11-01T00:00:00Z",
//	 "error":"","ids":[],"dry_run":false,"rate":10,"limit":100}
type Request struct {
	Queue string `json:"queue"`
	Kind  string `json:"kind"`
	App   string `json:"app"`
	// Since is RFC 3339, or "" for no lower bound.
	Since  string   `json:"since"`
	Error  string   `json:"error"`
	IDs    []string `json:"ids"`
	DryRun bool     `json:"dry_run"`
	Rate   float64  `json:"rate"`
	Limit  int      `json:"limit"`
}

// Filter returns the request's filter.
func (r Request) Filter() (Filter, error) {
	f := Filter{Queue: r.Queue, Kind: r.Kind, App: r.App, Error: r.Error, IDs: r.IDs}
	if r.Since != "" {
		t, err := time.Parse(time.RFC3339, r.Since)
		if err != nil {
			return Filter{}, fmt.Errorf("parsing since: %w", err)
		}
		f.Since = t
	}
	return f, nil
}

// Handler returns the Lambda handler of functions/replay: it redrives what
// the request selects and answers the Summary. A bad request or a failed
// listing is an error; messages that fail to move are counted in the
// summary, and running the same request again moves them (and skips what
// already moved).
func Handler(dead Dead, log *slog.Logger) func(ctx context.Context, req Request) (Summary, error) {
	return func(ctx context.Context, req Request) (Summary, error) {
		f, err := req.Filter()
		if err != nil {
			return Summary{}, err
		}
		s, err := Redrive(ctx, dead, f, Options{DryRun: req.DryRun, Rate: req.Rate, Limit: req.Limit})
		log.InfoContext(ctx, "replay finished", "queue", req.Queue, "dry_run", req.DryRun, "matched", s.Matched,
			"moved", s.Moved, "skipped", s.Skipped, "failed", s.Failed, "move_task", s.MoveTask)
		for _, e := range s.Errors {
			log.WarnContext(ctx, "replay failed for a message", "error", e)
		}
		return s, err
	}
}
