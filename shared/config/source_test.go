package config

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/conveyor-gitops/conveyor/shared/retry"
)

func TestSourceLoadClassifies(t *testing.T) {
	_, parseErr := Parse("conveyor.yaml", []byte("version: 2\n"))
	for _, tc := range []struct {
		name      string
		err       error
		permanent bool
	}{
		{"invalid file", parseErr, true},
		{"unreachable repository", errors.New("dial tcp: connection refused"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := Loader(func(context.Context) (*Config, error) { return nil, tc.err })
			_, err := src.Load(context.Background())
			if err == nil || retry.IsPermanent(err) != tc.permanent || !strings.Contains(err.Error(), tc.err.Error()) {
				t.Fatalf("Load = %v, want permanent=%v wrapping %v", err, tc.permanent, tc.err)
			}
		})
	}
}
