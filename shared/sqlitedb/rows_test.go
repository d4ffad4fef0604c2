package sqlitedb_test

import (
	"testing"

	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
	"github.com/google/go-cmp/cmp"
)

func TestChunks(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want []int
	}{
		{0, nil},
		{1, []int{1}},
		{2, []int{2}},
		{24, []int{16, 8}},
		{64, []int{64}},
		{130, []int{64, 64, 2}},
		{255, []int{64, 64, 64, 32, 16, 8, 4, 2, 1}},
	} {
		var got []int
		next := 0
		err := sqlitedb.Chunks(tc.n, func(lo, hi int) error {
			if lo != next {
				t.Errorf("n=%d: run starts at %d, want %d", tc.n, lo, next)
			}
			next = hi
			got = append(got, hi-lo)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("Chunks(%d) sizes (-want +got):\n%s", tc.n, diff)
		}
	}
}
