package awsenv

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/notify"
	"github.com/conveyor-gitops/conveyor/shared/retry"
	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
	"github.com/conveyor-gitops/conveyor/shared/state"
	"github.com/conveyor-gitops/conveyor/shared/state/sqlitestate"
)

// secretsManager speaks Secrets Manager's JSON protocol for GetSecretValue,
// answering from secrets by id, or with status when it is set.
type secretsManager struct {
	mu      sync.Mutex
	secrets map[string]string
	status  int
	calls   int
}

func (s *secretsManager) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	var in struct{ SecretId string }
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if r.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue" || json.Unmarshal(body, &in) != nil {
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"__type":"InvalidRequestException","message":"bad request"}`))
		return
	}
	if s.status != 0 {
		w.WriteHeader(s.status)
		w.Write([]byte(`{"__type":"InternalServiceError","message":"try later"}`))
		return
	}
	v, ok := s.secrets[in.SecretId]
	if !ok {
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"__type":"ResourceNotFoundException","message":"no such secret"}`))
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"ARN": in.SecretId, "Name": "notify", "SecretString": v, "VersionId": "v1"})
}

// newIdem opens an embedded state store for deliveries' records.
func newIdem(t *testing.T) state.Idempotency {
	t.Helper()
	db, err := sqlitedb.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st, err := sqlitestate.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestNotifySecretsFromSecretsManager: the notify function reads the
// receivers' signing key and Slack URL from one Secrets Manager secret,
// once per TTL; a name it lacks is permanent, Secrets Manager failing is
// retried, and no error carries a value.
func TestNotifySecretsFromSecretsManager(t *testing.T) {
	const arn = "arn:aws:secretsmanager:us-east-1:1:secret:notify"
	sm := &secretsManager{secrets: map[string]string{arn: `{"HOOK_KEY":"h00k-key","SLACK_URL":"https://hooks.example.com/services/s3cr3t"}`}}
	smSrv := httptest.NewServer(sm)
	defer smSrv.Close()
	var mu sync.Mutex
	var signatures []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if notify.Verify([]byte("h00k-key"), body, r.Header.Get(notify.HeaderSignature)) {
			signatures = append(signatures, "verified")
		}
	}))
	defer hook.Close()

	cfg, err := Load(env(map[string]string{VarEndpoint: smSrv.URL, VarNotifySecrets + "_ARN": arn}), NotifySecrets)
	if err != nil {
		t.Fatal(err)
	}
	a := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("id", "key", "")}
	e := New(a, cfg, nil)
	lookup := func(string) (string, bool) { return "from-the-environment", true } // never read when the secret is configured
	d := &notify.Deliverer{Idem: newIdem(t), Lookup: lookup, Secret: e.NotifySecret()}
	ev := notify.Event{Event: config.NotifyOpened, App: "web", Environment: "prod", PR: 1}
	ctx := context.Background()
	for i, k := range []string{"a", "b"} {
		ev.Key = k
		if err := d.Deliver(ctx, notify.Delivery{Event: ev, Target: notify.Target{Webhook: hook.URL, SecretEnv: "HOOK_KEY"}}); err != nil {
			t.Fatalf("delivery %d: %v", i, err)
		}
	}
	if len(signatures) != 2 || sm.calls != 1 {
		t.Fatalf("%d verified posts after %d GetSecretValue calls, want 2 after 1 (cached)", len(signatures), sm.calls)
	}
	v, err := d.Secret(ctx, "SLACK_URL")
	if err != nil || v != "https://hooks.example.com/services/s3cr3t" {
		t.Errorf("SLACK_URL = %q, %v", v, err)
	}

	for _, tc := range []struct {
		name      string
		secret    string // the secret's value; "" leaves it
		status    int
		target    string
		permanent bool
	}{
		{name: "a name the secret lacks", target: "OTHER_KEY", permanent: true},
		{name: "Secrets Manager failing", status: http.StatusInternalServerError, target: "HOOK_KEY"},
		{name: "a secret that is not JSON", secret: "h00k-key", target: "HOOK_KEY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sm.mu.Lock()
			sm.status = tc.status
			if tc.secret != "" {
				sm.secrets[arn] = tc.secret
			}
			sm.mu.Unlock()
			// A fresh cache, so that Secrets Manager is asked.
			e := New(a, cfg, nil)
			d := &notify.Deliverer{Idem: newIdem(t), Secret: e.NotifySecret()}
			ev.Key = tc.name
			err := d.Deliver(ctx, notify.Delivery{Event: ev, Target: notify.Target{Webhook: hook.URL, SecretEnv: tc.target}})
			if err == nil || retry.IsPermanent(err) != tc.permanent {
				t.Fatalf("Deliver = %v (permanent %v), want permanent %v", err, retry.IsPermanent(err), tc.permanent)
			}
			if strings.Contains(err.Error(), "h00k") || strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("the error carries a secret: %v", err)
			}
			if tc.permanent && !strings.Contains(err.Error(), "OTHER_KEY is not in the notification secrets") {
				t.Errorf("Deliver = %v, want it to name OTHER_KEY", err)
			}
		})
	}
}
