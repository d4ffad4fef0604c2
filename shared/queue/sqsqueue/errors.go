package sqsqueue

import (
	"errors"
	"strings"

	"github.com/aws/smithy-go"
)

// Errors particular to SQS.
var (
	// ErrDelay means a delay SQS cannot honour: longer than MaxDelay, or
	// any delay on a FIFO queue (SQS takes delays there per queue only).
	ErrDelay = errors.New("delay not supported by SQS")
	// ErrNoDeadLetterQueue means DeadLetter was called on a queue built
	// without WithDeadLetterQueue.
	ErrNoDeadLetterQueue = errors.New("no dead-letter queue configured")
)

// errorCode returns the SQS error code of err without the query-protocol
// prefix ("AWS.SimpleQueueService."), or "".
func errorCode(err error) string {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return ""
	}
	return strings.TrimPrefix(ae.ErrorCode(), "AWS.SimpleQueueService.")
}

// isStale reports whether err says a receipt handle no longer owns its
// message.
func isStale(err error) bool {
	switch errorCode(err) {
	case "MessageNotInflight", "ReceiptHandleIsInvalid", "InvalidIdFormat":
		return true
	case "InvalidParameterValue":
		// SQS: "Value … for parameter ReceiptHandle is invalid. Reason: The
		// receipt handle has expired."
		return strings.Contains(err.Error(), "eceipt handle")
	}
	return false
}

// isTooLarge reports whether err is SQS refusing a message's size.
func isTooLarge(err error) bool {
	switch errorCode(err) {
	case "BatchRequestTooLong":
		return true
	case "InvalidParameterValue":
		return strings.Contains(err.Error(), "shorter than")
	}
	return false
}
