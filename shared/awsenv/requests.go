package awsenv

import (
	"context"
	"errors"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// requestObserver counts AWS API requests; *metrics.Registry is one.
type requestObserver interface {
	AWSRequest(service, operation string, code int)
}

// countRequests adds a step to an SDK client's stack that reports every
// attempt to obs, as the EMF counter conveyor_aws_requests_total: the SQS,
// DynamoDB and Secrets Manager requests AWS bills, counted by the function
// that sends them. It sits last in the finalize step, inside the SDK's
// retry loop, so that each retried attempt (billed too) counts once.
func countRequests(obs requestObserver) func(*middleware.Stack) error {
	return func(s *middleware.Stack) error {
		return s.Finalize.Add(middleware.FinalizeMiddlewareFunc("ConveyorCountRequests",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				out, md, err := next.HandleFinalize(ctx, in)
				obs.AWSRequest(awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx), statusCode(md, err))
				return out, md, err
			}), middleware.After)
	}
}

// statusCode is the HTTP status of an attempt, 0 when none came back.
func statusCode(md middleware.Metadata, err error) int {
	if resp, ok := awsmiddleware.GetRawResponse(md).(*smithyhttp.Response); ok && resp != nil && resp.Response != nil {
		return resp.StatusCode
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.Response != nil && re.Response.Response != nil {
		return re.Response.StatusCode
	}
	return 0
}
