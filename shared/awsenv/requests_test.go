package awsenv

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsretry "github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// TestAWSRequestsCounted: every attempt an Env's client sends is counted
// in the container's metrics by service, operation and status class, and
// the counts equal the requests the server saw (a cached secret sends
// none, a retried one sends each attempt).
func TestAWSRequestsCounted(t *testing.T) {
	const arn = "arn:aws:secretsmanager:us-east-1:1:secret:token"
	sm := &secretsManager{secrets: map[string]string{arn: "s3cr3t"}}
	srv := httptest.NewServer(sm)
	defer srv.Close()
	a := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("id", "key", ""),
		Retryer: func() aws.Retryer {
			return awsretry.NewStandard(func(o *awsretry.StandardOptions) { o.Backoff = noBackoff{} })
		}}
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		secret Secret
		status int
		fresh  bool // a new Env, so that the cache is empty
		want   map[string]int
	}{
		{name: "fetched", secret: Secret{Name: "T", ARN: arn}, fresh: true, want: map[string]int{"2xx": 1}},
		{name: "cached", secret: Secret{Name: "T", ARN: arn}, want: map[string]int{}},
		{name: "missing", secret: Secret{Name: "T", ARN: arn + "-gone"}, fresh: true, want: map[string]int{"4xx": 1}},
		{name: "retried", secret: Secret{Name: "T", ARN: arn}, status: http.StatusInternalServerError, fresh: true,
			want: map[string]int{"5xx": 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sm.mu.Lock()
			sm.status, sm.calls = tc.status, 0
			sm.mu.Unlock()
			e := New(a, Config{Endpoint: srv.URL, SecretsTTL: time.Hour}, nil)
			if !tc.fresh {
				e.Secret(ctx, tc.secret) // fills the cache
			}
			before := awsRequests(t)
			sm.mu.Lock()
			sm.calls = 0
			sm.mu.Unlock()
			e.Secret(ctx, tc.secret)
			after := awsRequests(t)
			got, sent := map[string]int{}, 0
			for code, n := range after {
				if d := n - before[code]; d != 0 {
					got[code] = d
					sent += d
				}
			}
			if len(got) != len(tc.want) || sent != sm.calls {
				t.Fatalf("counted %v after %d requests, want %v", got, sm.calls, tc.want)
			}
			for code, n := range tc.want {
				if got[code] != n {
					t.Errorf("counted %v, want %v", got, tc.want)
				}
			}
		})
	}
}

type noBackoff struct{}

func (noBackoff) BackoffDelay(int, error) (time.Duration, error) { return 0, nil }

// awsRequests scrapes the container's metrics for Secrets Manager's
// GetSecretValue requests, by status class.
func awsRequests(t *testing.T) map[string]int {
	t.Helper()
	rec := httptest.NewRecorder()
	containerMetrics.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	out := map[string]int{}
	for _, l := range strings.Split(rec.Body.String(), "\n") {
		if !strings.HasPrefix(l, "conveyor_aws_requests_total{") ||
			!strings.Contains(l, `operation="GetSecretValue"`) || !strings.Contains(l, `service="Secrets Manager"`) {
			continue
		}
		i := strings.Index(l, `code="`)
		code := l[i+6 : i+9]
		var n int
		if _, err := fmt.Sscan(l[strings.LastIndex(l, " ")+1:], &n); err != nil {
			t.Fatalf("reading %q: %v", l, err)
		}
		out[code] = n
	}
	return out
}
