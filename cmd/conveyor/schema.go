package main

import (
	"context"
	"fmt"
	"io"

	"github.com/conveyor-gitops/conveyor/shared/config"
)

func init() {
	commands["schema"] = command{"print the JSON Schema of conveyor.yaml, for editors and CI", runSchema}
}

func runSchema(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("schema", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
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
