package sqsqueue_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/queue/sqsqueue"
)

// fakeSQS stands in for *sqs.Client; nil functions fail the call.
type fakeSQS struct {
	SendMessageFn             func(*sqs.SendMessageInput) (*sqs.SendMessageOutput, error)
	DeleteMessageFn           func(*sqs.DeleteMessageInput) (*sqs.DeleteMessageOutput, error)
	ChangeMessageVisibilityFn func(*sqs.ChangeMessageVisibilityInput) (*sqs.ChangeMessageVisibilityOutput, error)
}

var errNotFaked = errors.New("not faked")

func (f *fakeSQS) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	if f.SendMessageFn == nil {
		return nil, errNotFaked
	}
	return f.SendMessageFn(in)
}

func (f *fakeSQS) SendMessageBatch(context.Context, *sqs.SendMessageBatchInput, ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	return nil, errNotFaked
}

func (f *fakeSQS) ReceiveMessage(context.Context, *sqs.ReceiveMessageInput, ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	return nil, errNotFaked
}

func (f *fakeSQS) DeleteMessage(_ context.Context, in *sqs.DeleteMessageInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error) {
	if f.DeleteMessageFn == nil {
		return nil, errNotFaked
	}
	return f.DeleteMessageFn(in)
}

func (f *fakeSQS) DeleteMessageBatch(context.Context, *sqs.DeleteMessageBatchInput, ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error) {
	return nil, errNotFaked
}

func (f *fakeSQS) ChangeMessageVisibility(_ context.Context, in *sqs.ChangeMessageVisibilityInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	if f.ChangeMessageVisibilityFn == nil {
		return nil, errNotFaked
	}
	return f.ChangeMessageVisibilityFn(in)
}

// Real SQS words a stale receipt in several ways; each must become
// ErrStaleReceipt, and the SQS receipt must reach SQS without the id.
func TestStaleReceiptErrors(t *testing.T) {
	for _, apiErr := range []error{
		&smithy.GenericAPIError{Code: "AWS.SimpleQueueService.MessageNotInflight", Message: "Message does not exist or is not available for visibility timeout change."},
		&smithy.GenericAPIError{Code: "ReceiptHandleIsInvalid", Message: "The input receipt handle is invalid."},
		&smithy.GenericAPIError{Code: "InvalidParameterValue", Message: "Value abc for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired."},
	} {
		var gotReceipt string
		var gotTimeout int32
		fake := &fakeSQS{ChangeMessageVisibilityFn: func(in *sqs.ChangeMessageVisibilityInput) (*sqs.ChangeMessageVisibilityOutput, error) {
			gotReceipt, gotTimeout = *in.ReceiptHandle, in.VisibilityTimeout
			return nil, apiErr
		}}
		q, err := sqsqueue.New(fake, "https://sqs.us-east-1.amazonaws.com/123456789012/builds")
		if err != nil {
			t.Fatal(err)
		}
		err = q.Fail(context.Background(), sqsqueue.ReceiptHandle("m-1", "AQEB+abc/def="), "boom", 1500*time.Millisecond)
		if !errors.Is(err, queue.ErrStaleReceipt) {
			t.Errorf("%v: Fail returned %v, want ErrStaleReceipt", apiErr, err)
		}
		if gotReceipt != "AQEB+abc/def=" || gotTimeout != 2 {
			t.Errorf("ChangeMessageVisibility got receipt %q, timeout %d; want AQEB+abc/def=, 2 (rounded up)", gotReceipt, gotTimeout)
		}
	}
}

func TestTooLargeFromSQS(t *testing.T) {
	fake := &fakeSQS{SendMessageFn: func(*sqs.SendMessageInput) (*sqs.SendMessageOutput, error) {
		return nil, &smithy.GenericAPIError{Code: "InvalidParameterValue", Message: "One or more parameters are invalid. Reason: Message must be shorter than 262144 bytes."}
	}}
	q, err := sqsqueue.New(fake, "https://sqs.us-east-1.amazonaws.com/123456789012/builds")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Send(context.Background(), queue.SendInput{Body: []byte("x")}); !errors.Is(err, queue.ErrTooLarge) {
		t.Fatalf("Send: %v, want ErrTooLarge", err)
	}
}
