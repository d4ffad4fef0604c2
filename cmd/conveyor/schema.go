package main

import (
	"context"
	"fmt"
	"io"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/spf13/pflag"
)

func runSchema(fs *pflag.FlagSet) runFunc {
	return func(ctx context.Context, stdout, stderr io.Writer) error {
		if fs.NArg() > 0 {
			return fmt.Errorf("%w: schema takes no arguments", errUsage)
		}
		s, err := config.Schema()
		if err != nil {
			return err
		}
		_, err = stdout.Write(s)
		return err
	}
}
