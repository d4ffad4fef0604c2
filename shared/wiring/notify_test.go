package wiring_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/notify"
	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
	"github.com/conveyor-gitops/conveyor/shared/state/sqlitestate"
	"github.com/conveyor-gitops/conveyor/shared/wiring"
)

// TestNotifyReadsTheRuntimesSecrets: the notify consumer signs with the
// key the runtime's NotifySecret gives (Secrets Manager on AWS), not with
// the environment's.
func TestNotifyReadsTheRuntimesSecrets(t *testing.T) {
	ctx := context.Background()
	db, err := sqlitedb.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := sqlitestate.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	verified := make(chan bool, 1)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		verified <- notify.Verify([]byte("from-the-store"), body, r.Header.Get(notify.HeaderSignature))
	}))
	defer hook.Close()
	f, _ := wiring.Lookup("notify")
	c, err := f.Consumer(wiring.Deps{State: st,
		Lookup:       func(string) (string, bool) { return "from-the-environment", true },
		NotifySecret: func(context.Context, string) (string, error) { return "from-the-store", nil }})
	if err != nil {
		t.Fatal(err)
	}
	dl := notify.Delivery{Event: notify.Event{Event: config.NotifyOpened, Key: "k", App: "web", Environment: "dev"},
		Target: notify.Target{Webhook: hook.URL, SecretEnv: "HOOK_KEY"}}
	env, err := event.New(event.KindNotification, "conveyor", dl.Key(), "", dl, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Fn(ctx, env); err != nil {
		t.Fatal(err)
	}
	if !<-verified {
		t.Error("the webhook was not signed with the runtime's secret")
	}
}
