package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/board"
	"github.com/conveyor-gitops/conveyor/shared/build"
	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/history"
	"github.com/conveyor-gitops/conveyor/shared/local"
	"github.com/conveyor-gitops/conveyor/shared/replay"
)

// startBoard serves the pipeline board of a local runtime: at / on the
// ingress's port when addr is "", else on its own listener at addr. It
// returns what stops it; the board only reads the runtime's records.
func startBoard(ctx context.Context, who string, rt *local.Runtime, g *local.GitOps, cfg func(context.Context) (*config.Config, error),
	addr string, ingress net.Addr, stdout io.Writer, log *slog.Logger) (stop func(), err error) {
	src := board.Sources{Config: cfg, Releases: rt.State, Queues: rt, Dead: replay.NewEmbedded(rt.Queues), Commits: history.Local{},
		Builds: build.Commits{Records: rt.State}}
	if g != nil {
		src.GitOps = g
	}
	b, err := board.New(src, board.WithLogger(log.With("component", "board")))
	if err != nil {
		return nil, err
	}
	if addr == "" {
		if ingress == nil {
			return nil, fmt.Errorf("%w: the board shares the ingress's port: run the webhook function or give --ui-addr", errUsage)
		}
		rt.ServeBoard(b)
		fmt.Fprintf(stdout, "%s: board on http://%s/\n", who, ingress)
		return b.Stop, nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s for the board: %w", addr, err)
	}
	srv := &http.Server{Handler: b, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.ErrorContext(ctx, "serving the board", "err", err)
		}
	}()
	fmt.Fprintf(stdout, "%s: board on http://%s/\n", who, l.Addr())
	return func() {
		b.Stop()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}, nil
}
