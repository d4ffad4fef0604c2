package lineage

import (
	"encoding/json"
	"sort"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/state"
)

// Metrics are the four DORA metrics over a window, counting each app's last
// environment as production.
type Metrics struct {
	Since time.Time `json:"since"`
	Until time.Time `json:"until"`
	// Deployments is how many production releases merged in the window.
	Deployments int `json:"deployments"`
	// DeploymentsPerDay is Deployments over the window's length in days.
	DeploymentsPerDay float64 `json:"deployments_per_day"`
	// LeadTime is the median of source commit time → production merge.
	LeadTime        time.Duration `json:"-"`
	LeadTimeSeconds float64       `json:"lead_time_seconds"`
	// Rollbacks is how many production rollbacks merged in the window.
	Rollbacks int `json:"rollbacks"`
	// ChangeFailureRate is Rollbacks / Deployments (rollbacks excluded).
	ChangeFailureRate float64 `json:"change_failure_rate"`
	// TimeToRestore is the median of rollback proposed → rollback merged.
	TimeToRestore        time.Duration `json:"-"`
	TimeToRestoreSeconds float64       `json:"time_to_restore_seconds"`
}

// Compute derives the metrics from release records.
func Compute(cfg *config.Config, rels []state.Release, since, until time.Time) Metrics {
	prod := map[string]string{}
	for _, a := range cfg.Apps {
		if n := len(a.Environments); n > 0 {
			prod[a.Name] = a.Environments[n-1].Name
		}
	}
	m := Metrics{Since: since, Until: until}
	var leads, restores []time.Duration
	for _, r := range rels {
		if r.State != state.Merged || prod[r.App] != r.Env || r.MergedAt.Before(since) || r.MergedAt.After(until) {
			continue
		}
		if r.Rollback {
			m.Rollbacks++
			restores = append(restores, r.MergedAt.Sub(r.CreatedAt))
			continue
		}
		m.Deployments++
		if !r.SourceTime.IsZero() {
			leads = append(leads, r.MergedAt.Sub(r.SourceTime))
		}
	}
	if days := until.Sub(since).Hours() / 24; days > 0 {
		m.DeploymentsPerDay = float64(m.Deployments) / days
	}
	if m.Deployments > 0 {
		m.ChangeFailureRate = float64(m.Rollbacks) / float64(m.Deployments)
	}
	m.LeadTime, m.TimeToRestore = median(leads), median(restores)
	m.LeadTimeSeconds, m.TimeToRestoreSeconds = m.LeadTime.Seconds(), m.TimeToRestore.Seconds()
	return m
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	if len(ds)%2 == 1 {
		return ds[len(ds)/2]
	}
	return (ds[len(ds)/2-1] + ds[len(ds)/2]) / 2
}

// EMF renders the metrics as one CloudWatch Embedded Metric Format log
// line, which Lambda's log pipeline turns into CloudWatch metrics.
func (m Metrics) EMF(namespace string, now time.Time) []byte {
	doc := map[string]any{
		"_aws": map[string]any{
			"Timestamp": now.UnixMilli(),
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace":  namespace,
				"Dimensions": [][]string{{}},
				"Metrics": []map[string]string{
					{"Name": "Deployments", "Unit": "Count"},
					{"Name": "LeadTimeForChanges", "Unit": "Seconds"},
					{"Name": "ChangeFailureRate", "Unit": "None"},
					{"Name": "TimeToRestore", "Unit": "Seconds"},
				},
			}},
		},
		"Deployments":        m.Deployments,
		"LeadTimeForChanges": m.LeadTimeSeconds,
		"ChangeFailureRate":  m.ChangeFailureRate,
		"TimeToRestore":      m.TimeToRestoreSeconds,
	}
	b, _ := json.Marshal(doc)
	return b
}
