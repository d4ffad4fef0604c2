package test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/conveyor-gitops/conveyor/test/emulator"
)

// eventSourceMapping plays Lambda's SQS event source mapping for one
// function: it long-polls the queue with the queue's own visibility
// timeout, invokes the function with the batch as an SQS event, and
// deletes the records the function did not report in batchItemFailures.
// Reported records are left alone: they come back when their visibility
// ends — the queue's, or whatever the function set with
// ChangeMessageVisibility — and the queue's redrive policy moves a record
// received more than maxReceiveCount times to the dead-letter queue. A
// function error, or an empty item identifier, fails the whole batch, as
// in Lambda. Invocations are one at a time (a maximum concurrency of 1).
type eventSourceMapping struct {
	function string
	fn       invoker
	sqs      *sqs.Client
	queueURL string
	arn      string
	batch    int

	mu       sync.Mutex
	received []esmReceive
	problems []string
}

// invoker invokes a function synchronously and returns its answer: a
// *lambdaProcess, or a Go function standing in for one.
type invoker interface {
	call(payload any) ([]byte, error)
}

// esmReceive is one record handed to the function.
type esmReceive struct {
	At        time.Time // when it was received
	MessageID string
	Body      string
	Receives  string // ApproximateReceiveCount
	Failed    bool   // reported in batchItemFailures (or the batch failed)
}

// run polls until ctx ends; the batch in progress finishes first.
func (m *eventSourceMapping) run(ctx context.Context) {
	for ctx.Err() == nil {
		out, err := m.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(m.queueURL),
			MaxNumberOfMessages: int32(m.batch), WaitTimeSeconds: 1, MessageAttributeNames: []string{"All"},
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll}})
		if err != nil {
			if ctx.Err() == nil {
				m.problem("receiving: " + err.Error())
				time.Sleep(100 * time.Millisecond)
			}
			continue
		}
		if len(out.Messages) > 0 {
			m.invoke(context.WithoutCancel(ctx), out.Messages)
		}
	}
}

func (m *eventSourceMapping) invoke(ctx context.Context, msgs []sqstypes.Message) {
	ev := events.SQSEvent{Records: make([]events.SQSMessage, len(msgs))}
	for i, msg := range msgs {
		ev.Records[i] = sqsRecord(msg, m.arn)
	}
	failed := map[string]bool{}
	all := false
	received := time.Now()
	raw, err := m.fn.call(ev)
	var resp struct {
		events.SQSEventResponse
		ErrorType string `json:"errorType"`
	}
	switch {
	case err != nil:
		m.problem("invoking: " + err.Error())
		all = true
	case json.Unmarshal(raw, &resp) != nil || resp.ErrorType != "":
		m.problem("function error: " + string(raw))
		all = true
	}
	for _, f := range resp.BatchItemFailures {
		failed[f.ItemIdentifier] = true
		all = all || f.ItemIdentifier == ""
	}
	var done []sqstypes.DeleteMessageBatchRequestEntry
	m.mu.Lock()
	for i, msg := range msgs {
		id := aws.ToString(msg.MessageId)
		fail := all || failed[id]
		m.received = append(m.received, esmReceive{At: received, MessageID: id, Body: aws.ToString(msg.Body),
			Receives: msg.Attributes["ApproximateReceiveCount"], Failed: fail})
		if !fail {
			done = append(done, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(strings.Repeat("m", i+1)), ReceiptHandle: msg.ReceiptHandle})
		}
	}
	m.mu.Unlock()
	if len(done) == 0 {
		return
	}
	// A record the function moved or deleted itself may fail to delete
	// here; SQS ignores that, and so does the mapping.
	if _, err := m.sqs.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(m.queueURL), Entries: done}); err != nil {
		m.problem("deleting: " + err.Error())
	}
}

func (m *eventSourceMapping) problem(s string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.problems = append(m.problems, s)
}

// receives returns the records handed to the function so far.
func (m *eventSourceMapping) receives() []esmReceive {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]esmReceive(nil), m.received...)
}

// sqsRecord is a received message as Lambda puts it in an SQS event.
func sqsRecord(msg sqstypes.Message, arn string) events.SQSMessage {
	rec := events.SQSMessage{
		MessageId: aws.ToString(msg.MessageId), ReceiptHandle: aws.ToString(msg.ReceiptHandle), Body: aws.ToString(msg.Body),
		Md5OfBody: aws.ToString(msg.MD5OfBody), Attributes: msg.Attributes, MessageAttributes: map[string]events.SQSMessageAttribute{},
		EventSource: "aws:sqs", EventSourceARN: arn, AWSRegion: emulator.Region,
	}
	for k, v := range msg.MessageAttributes {
		rec.MessageAttributes[k] = events.SQSMessageAttribute{StringValue: v.StringValue, BinaryValue: v.BinaryValue, DataType: aws.ToString(v.DataType)}
	}
	return rec
}

// apiGateway is an HTTP endpoint in front of a function, as an API Gateway
// HTTP API (payload 2.0) is: each request becomes one synchronous invoke
// with lower-case header names, and the function's answer the response; a
// function error is a 502.
type apiGateway struct {
	URL string
	fn  atomic.Pointer[lambdaProcess]
}

// startAPIGateway listens now; requests wait for a function with 503 until
// route sets one.
func startAPIGateway(t testing.TB) *apiGateway {
	t.Helper()
	g := &apiGateway{}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	g.URL = srv.URL
	return g
}

func (g *apiGateway) route(fn *lambdaProcess) { g.fn.Store(fn) }

func (g *apiGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fn := g.fn.Load()
	body, err := io.ReadAll(io.LimitReader(r.Body, 10<<20))
	if fn == nil || err != nil {
		http.Error(w, `{"message":"Service Unavailable"}`, http.StatusServiceUnavailable)
		return
	}
	ev := events.APIGatewayV2HTTPRequest{Version: "2.0", RouteKey: "$default", RawPath: r.URL.Path, RawQueryString: r.URL.RawQuery,
		Headers: map[string]string{}, Body: string(body),
		RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: randomHex(8), Stage: "$default",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: r.Method, Path: r.URL.Path, Protocol: r.Proto,
				SourceIP: strings.Split(r.RemoteAddr, ":")[0], UserAgent: r.UserAgent()}}}
	for k, v := range r.Header {
		ev.Headers[strings.ToLower(k)] = strings.Join(v, ",")
	}
	if !utf8.Valid(body) {
		ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	}
	raw, err := fn.call(ev)
	var resp struct {
		events.APIGatewayV2HTTPResponse
		ErrorType string `json:"errorType"`
	}
	if err != nil || json.Unmarshal(raw, &resp) != nil || resp.ErrorType != "" || resp.StatusCode == 0 {
		http.Error(w, `{"message":"Internal Server Error"}`, http.StatusBadGateway)
		return
	}
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	out := []byte(resp.Body)
	if resp.IsBase64Encoded {
		out, _ = base64.StdEncoding.DecodeString(resp.Body)
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(out)
}
