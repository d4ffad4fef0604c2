package reconcile

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// Summary is what one scheduled pass answers: counts for the invocation's
// result, the repairs themselves being in the log.
type Summary struct {
	Repairs  int `json:"repairs"`
	Failed   int `json:"failed"`
	Drifts   int `json:"drifts"`
	Recorded int `json:"recorded"`
}

// Scheduled returns the handler of the EventBridge schedule that runs r.
// A repair that failed is retried by the next scheduled pass, not by
// Lambda: the invocation fails only when the pass could not run.
func Scheduled(r *Reconciler) func(ctx context.Context, ev events.CloudWatchEvent) (Summary, error) {
	return func(ctx context.Context, _ events.CloudWatchEvent) (Summary, error) {
		rep, err := r.Run(ctx, false)
		if err != nil {
			return Summary{}, fmt.Errorf("reconciling: %w", err)
		}
		s := Summary{Repairs: len(rep.Repairs), Drifts: len(rep.Drifts), Recorded: rep.Recorded}
		for _, p := range rep.Repairs {
			if p.Err != "" {
				s.Failed++
			}
		}
		return s, nil
	}
}

// Settings are reconciliation's tunables as a deployment sets them.
type Settings struct {
	// PerMinute is the forge and git request budget (DefaultPerMinute).
	PerMinute int
	// Settle is Reconciler.Settle (default one minute).
	Settle time.Duration
}

// Environment variables LoadSettings reads.
const (
	VarRate   = "CONVEYOR_RECONCILE_RATE"
	VarSettle = "CONVEYOR_RECONCILE_SETTLE"
)

// LoadSettings reads Settings from the environment through lookup.
func LoadSettings(lookup func(string) (string, bool)) (Settings, error) {
	s := Settings{PerMinute: DefaultPerMinute, Settle: time.Minute}
	if v, ok := lookup(VarRate); ok && v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return s, fmt.Errorf("%s=%q: want a number of requests a minute (0: no limit)", VarRate, v)
		}
		s.PerMinute = n
	}
	if v, ok := lookup(VarSettle); ok && v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return s, fmt.Errorf("%s=%q: want a duration such as 1m", VarSettle, v)
		}
		s.Settle = d
	}
	return s, nil
}
