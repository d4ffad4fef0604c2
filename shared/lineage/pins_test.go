package lineage

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestWithPins(t *testing.T) {
	const a, b = "sha256:aaaa", "sha256:bbbb"
	released := Cell{App: "web", Env: "prod", Digest: a, SourceCommit: "c1", MergedBy: "alice", Tag: "v1"}
	proposing := released
	proposing.PR, proposing.ProposedDigest = 7, b
	for _, tc := range []struct {
		name string
		cell Cell
		pin  *Pin
		want Cell
	}{
		{name: "git agrees", cell: released, pin: &Pin{Digest: a}, want: released},
		{name: "no pin read for the cell", cell: released, want: released},
		{
			name: "git pins another digest",
			cell: released, pin: &Pin{Digest: b},
			want: Cell{App: "web", Env: "prod", Digest: b, Recorded: a, Drift: true,
				DriftReason: "the records say sha256:aaaa but git pins sha256:bbbb: run `conveyor reconcile`"},
		},
		{
			name: "git pins nothing the records released",
			cell: released, pin: &Pin{},
			want: Cell{App: "web", Env: "prod", Recorded: a, Drift: true,
				DriftReason: "the records say sha256:aaaa but git pins no digest: run `conveyor reconcile`"},
		},
		{
			name: "git pins what the open promotion proposes",
			cell: proposing, pin: &Pin{Digest: b},
			want: Cell{App: "web", Env: "prod", Digest: b, Recorded: a, Drift: true, PR: 7, ProposedDigest: b,
				DriftReason: "git pins sha256:bbbb, which PR #7 proposes: its merge is not recorded yet; if that lasts, run `conveyor reconcile`"},
		},
		{
			name: "git pins a third digest while a promotion is open",
			cell: proposing, pin: &Pin{Digest: "sha256:cccc"},
			want: Cell{App: "web", Env: "prod", Digest: "sha256:cccc", Recorded: a, Drift: true, PR: 7, ProposedDigest: b,
				DriftReason: "the records say sha256:aaaa but git pins sha256:cccc: run `conveyor reconcile`"},
		},
		{
			name: "the pin could not be read",
			cell: released, pin: &Pin{Err: "kustomization.yaml: no image named web"},
			want: func() Cell {
				c := released
				c.Drift, c.DriftReason = true, "kustomization.yaml: no image named web"
				return c
			}(),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var pins []Pin
			if tc.pin != nil {
				p := *tc.pin
				p.App, p.Env = tc.cell.App, tc.cell.Env
				pins = append(pins, p, Pin{App: "api", Env: tc.cell.Env, Digest: "sha256:other"})
			}
			got := WithPins([]Cell{tc.cell}, pins)
			if diff := cmp.Diff([]Cell{tc.want}, got); diff != "" {
				t.Errorf("WithPins (-want +got):\n%s", diff)
			}
		})
	}
}
