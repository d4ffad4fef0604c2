package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/conveyor-gitops/conveyor/shared/awsenv"
	"github.com/conveyor-gitops/conveyor/shared/promote"
	"github.com/spf13/pflag"
)

// boardOutput is the stack output holding the board's function URL.
const boardOutput = "BoardUrl"

func runBoard(fs *pflag.FlagSet) runFunc {
	addr := fs.String("addr", "127.0.0.1:8090", "where the board (or, with --stack, the signing proxy) listens; keep the proxy on loopback: it acts with your credentials")
	pf := addPipelineFlags(fs)
	return func(ctx context.Context, stdout, stderr io.Writer) error {
		if fs.NArg() > 0 {
			return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
		}
		name, ok := pf.stack.name()
		if !ok {
			return serveLocalBoard(ctx, pf, *addr, stdout, stderr)
		}
		if promote.StackSelector(name) == "" {
			return fmt.Errorf("%w: %q is not a CloudFormation stack name", errUsage, name)
		}
		a, err := awsenv.AWSConfig(ctx)
		if err != nil {
			return err
		}
		target, err := boardURL(ctx, cloudformation.NewFromConfig(a, func(o *cloudformation.Options) {
			if e := os.Getenv(awsenv.VarEndpoint); e != "" {
				o.BaseEndpoint = aws.String(e)
			}
		}), name)
		if err != nil {
			return err
		}
		l, err := net.Listen("tcp", *addr)
		if err != nil {
			return fmt.Errorf("listening on %s: %w", *addr, err)
		}
		srv := &http.Server{Handler: signingProxy(target, a.Credentials, a.Region), ReadHeaderTimeout: 5 * time.Second}
		fmt.Fprintf(stdout, "conveyor board: the board of stack %s on http://%s/ (Ctrl-C to stop)\n", name, l.Addr())
		go func() {
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}()
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serving the board proxy: %w", err)
		}
		return nil
	}
}

// boardURL reads the board's function URL from the stack's outputs.
func boardURL(ctx context.Context, cf describer, stack string) (*url.URL, error) {
	out, err := cf.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stack)})
	if err != nil {
		return nil, fmt.Errorf("describing stack %s: %w", stack, err)
	}
	for _, s := range out.Stacks {
		for _, o := range s.Outputs {
			if aws.ToString(o.OutputKey) == boardOutput {
				u, err := url.Parse(aws.ToString(o.OutputValue))
				if err != nil || u.Scheme != "https" {
					return nil, fmt.Errorf("stack %s: output %s %q is not an https URL", stack, boardOutput, aws.ToString(o.OutputValue))
				}
				return u, nil
			}
		}
	}
	return nil, fmt.Errorf("stack %s has no %s output: deploy a template with the board", stack, boardOutput)
}

// emptyPayload is the SHA-256 of an empty body: the board is only read.
var emptyPayload = func() string { h := sha256.Sum256(nil); return hex.EncodeToString(h[:]) }()

// forwarded are the request headers the board reads.
var forwarded = []string{"Accept", "Accept-Language", "If-None-Match", "X-Board-Fragment"}

// signingProxy forwards GET and HEAD requests to the board's function URL,
// signed with SigV4 for the lambda service (a function URL with AuthType
// AWS_IAM), and copies back the answer with the board's own headers. The
// credentials stay in this process: only signatures leave it.
func signingProxy(target *url.URL, creds aws.CredentialsProvider, region string) http.Handler {
	signer := v4.NewSigner()
	client := &http.Client{Timeout: 30 * time.Second}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "the board is read-only", http.StatusMethodNotAllowed)
			return
		}
		u := *target
		u.Path = strings.TrimSuffix(target.Path, "/") + r.URL.Path
		u.RawQuery = r.URL.RawQuery
		out, err := http.NewRequestWithContext(r.Context(), r.Method, u.String(), nil)
		if err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		for _, h := range forwarded {
			if v := r.Header.Get(h); v != "" {
				out.Header.Set(h, v)
			}
		}
		c, err := creds.Retrieve(r.Context())
		if err == nil {
			err = signer.SignHTTP(r.Context(), c, out, emptyPayload, "lambda", region, time.Now())
		}
		if err != nil {
			http.Error(w, "signing the request failed: are AWS credentials configured?", http.StatusBadGateway)
			return
		}
		resp, err := client.Do(out)
		if err != nil {
			http.Error(w, "the board did not answer", http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, vs := range resp.Header {
			for _, v := range vs {
				w.Header().Add(k, v)
			}
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	})
}

// serveLocalBoard serves the board of a data directory (what `conveyor dev`
// serves at /) until ctx ends: it only reads the records, so it runs beside
// a `conveyor dev` on the same directory or after one has stopped.
func serveLocalBoard(ctx context.Context, pf pipelineFlags, addr string, stdout, stderr io.Writer) error {
	s, err := pf.openLocal(ctx, stderr, false)
	if err != nil {
		return err
	}
	defer s.Close()
	stop, err := startBoard(ctx, "conveyor board", s.rt, s.local, s.config, addr, nil, stdout, s.log)
	if err != nil {
		return err
	}
	defer stop()
	<-ctx.Done()
	return nil
}
