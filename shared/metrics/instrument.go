package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/build"
	"github.com/conveyor-gitops/conveyor/shared/forge"
)

var (
	_ forge.Observer = (*Registry)(nil)
	_ build.Observer = (*Registry)(nil)
)

// ForgeRequest counts a forge API call: the registry is a forge.Observer.
func (r *Registry) ForgeRequest(forge, method string, code int) {
	r.add(r.forge, 1, forge, method, codeClass(code))
}

// ForgeRateLimited records a rate-limited forge answer and its wait.
func (r *Registry) ForgeRateLimited(forge string, wait time.Duration) {
	r.observe(r.rateLimits, wait.Seconds(), forge)
}

// BuildFinished records a build's duration and the bytes it pushed: the
// registry is a build.Observer.
func (r *Registry) BuildFinished(app, result string, took time.Duration, pushed int64) {
	r.observe(r.builds, took.Seconds(), app, result)
	if pushed > 0 {
		r.add(r.pushed, float64(pushed), app)
	}
}

// RegistryTransport wraps next (http.DefaultTransport when nil) so that
// each container registry request is counted by method and status class.
func (r *Registry) RegistryTransport(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		resp, err := next.RoundTrip(req)
		code := 0
		if err == nil {
			code = resp.StatusCode
		}
		r.add(r.registry, 1, req.Method, codeClass(code))
		return resp, err
	})
}

// AWSRequest counts one attempt of an AWS API request by service (the
// SDK's service id: "SQS", "DynamoDB", "Secrets Manager"), operation and
// status class: AWS bills every attempt, retries included.
func (r *Registry) AWSRequest(service, operation string, code int) {
	r.add(r.aws, 1, service, operation, codeClass(code))
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// codeClass keeps the status label to a handful of values: "2xx"…"5xx",
// "error" when no answer came.
func codeClass(code int) string {
	if code < 100 || code > 599 {
		return "error"
	}
	return strconv.Itoa(code/100) + "xx"
}
