package webhook

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// LambdaHandler adapts h to API Gateway HTTP API (payload 2.0) and Lambda
// function URL invocations, which share this event shape. Header names
// arrive lower-cased and the body may be base64: both are undone before h
// sees the request, so the signature is checked over the original bytes.
func LambdaHandler(h http.Handler) func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		body := []byte(ev.Body)
		if ev.IsBase64Encoded {
			var err error
			if body, err = base64.StdEncoding.DecodeString(ev.Body); err != nil {
				return jsonResponse(http.StatusBadRequest, fmt.Sprintf(`{"status":"error","error":"body is not valid base64: %v"}`, err)), nil
			}
		}
		method := ev.RequestContext.HTTP.Method
		path := ev.RawPath
		if path == "" {
			path = ev.RequestContext.HTTP.Path
		}
		if ev.RawQueryString != "" {
			path += "?" + ev.RawQueryString
		}
		req, err := http.NewRequestWithContext(ctx, method, path, bytes.NewReader(body))
		if err != nil {
			return jsonResponse(http.StatusBadRequest, `{"status":"error","error":"unparseable request line"}`), nil
		}
		for k, v := range ev.Headers {
			// API Gateway joins repeated headers with commas.
			req.Header.Set(k, v)
		}
		if len(ev.Cookies) > 0 {
			req.Header.Set("Cookie", strings.Join(ev.Cookies, "; "))
		}
		req.ContentLength = int64(len(body))
		req.RemoteAddr = ev.RequestContext.HTTP.SourceIP
		rw := &responseWriter{header: http.Header{}}
		h.ServeHTTP(rw, req)
		if rw.code == 0 {
			rw.code = http.StatusOK
		}
		resp := events.APIGatewayV2HTTPResponse{StatusCode: rw.code, Headers: map[string]string{}, Body: rw.body.String()}
		for k, v := range rw.header {
			resp.Headers[strings.ToLower(k)] = strings.Join(v, ",")
		}
		return resp, nil
	}
}

func jsonResponse(code int, body string) events.APIGatewayV2HTTPResponse {
	return events.APIGatewayV2HTTPResponse{StatusCode: code, Headers: map[string]string{"content-type": "application/json"}, Body: body}
}

type responseWriter struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (w *responseWriter) Header() http.Header { return w.header }

func (w *responseWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.body.Write(b)
}
