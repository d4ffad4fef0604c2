package githubauth

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// appTokenTimeout bounds one installation token request.
const appTokenTimeout = 10 * time.Second

// refreshMargin is how long before its expiry an installation token is
// replaced: long enough for the slowest step that carries it (a clone, a
// push) to finish with it.
const refreshMargin = 5 * time.Minute

// DefaultAPI is GitHub's REST API base URL.
const DefaultAPI = "https://api.github.com/"

// App is a TokenSource of installation access tokens for one GitHub
// App installation. Each token is cached until five minutes before it
// expires (GitHub issues them for an hour). Safe for concurrent use.
type App struct {
	appID, installationID int64
	key                   func(ctx context.Context) (*rsa.PrivateKey, error)
	api                   string
	client                *http.Client
	now                   func() time.Time

	mu      sync.Mutex
	token   string
	expires time.Time
}

// AppOption configures an App.
type AppOption func(*App)

// WithAPI sets the REST API base URL, ending in "/" (default
// https://api.github.com/).
func WithAPI(base string) AppOption { return func(a *App) { a.api = base } }

// WithHTTPClient sets the client token requests go through (default
// http.DefaultClient).
func WithHTTPClient(c *http.Client) AppOption { return func(a *App) { a.client = c } }

// WithClock replaces time.Now, for tests of expiry.
func WithClock(now func() time.Time) AppOption { return func(a *App) { a.now = now } }

// NewApp returns the token source of an installation. key returns
// the App's private key; it is called when a token is minted, so a key
// kept in Secrets is read through its cache.
func NewApp(appID, installationID int64, key func(ctx context.Context) (*rsa.PrivateKey, error), opts ...AppOption) *App {
	a := &App{appID: appID, installationID: installationID, key: key, api: DefaultAPI, client: http.DefaultClient, now: time.Now}
	for _, o := range opts {
		o(a)
	}
	return a
}

// ParseAppKey parses a GitHub App private key (PEM, PKCS#1 or PKCS#8).
func ParseAppKey(pem []byte) (*rsa.PrivateKey, error) {
	k, err := jwt.ParseRSAPrivateKeyFromPEM(pem)
	if err != nil {
		// The parser's error never quotes the key.
		return nil, fmt.Errorf("parsing the GitHub App key: %w", err)
	}
	return k, nil
}

// Token returns a valid installation token, minting one when the cached
// token is absent or within five minutes of its expiry.
func (a *App) Token(ctx context.Context) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.token != "" && a.now().Add(refreshMargin).Before(a.expires) {
		return a.token, nil
	}
	tok, exp, err := a.mint(ctx)
	if err != nil {
		return "", fmt.Errorf("getting a token for installation %d of GitHub App %d: %w", a.installationID, a.appID, err)
	}
	a.token, a.expires = tok, exp
	return tok, nil
}

// JWT returns the App's own token: RS256, issued 60 s in the past against
// clock drift, valid for 9 minutes (GitHub accepts at most 10).
func (a *App) JWT(ctx context.Context) (string, error) {
	key, err := a.key(ctx)
	if err != nil {
		return "", err
	}
	now := a.now()
	claims := jwt.RegisteredClaims{
		Issuer:    strconv.FormatInt(a.appID, 10),
		IssuedAt:  jwt.NewNumericDate(now.Add(-60 * time.Second)),
		ExpiresAt: jwt.NewNumericDate(now.Add(9 * time.Minute)),
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(key)
	if err != nil {
		return "", fmt.Errorf("signing the App JWT: %w", err)
	}
	return s, nil
}

func (a *App) mint(ctx context.Context) (string, time.Time, error) {
	appJWT, err := a.JWT(ctx)
	if err != nil {
		return "", time.Time{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, appTokenTimeout)
	defer cancel()
	u := fmt.Sprintf("%sapp/installations/%d/access_tokens", a.api, a.installationID)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader([]byte("{}")))
	if err != nil {
		return "", time.Time{}, err
	}
	req.Header.Set("Authorization", "Bearer "+appJWT)
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		return "", time.Time{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", time.Time{}, err
	}
	if resp.StatusCode != http.StatusCreated {
		var msg struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal(body, &msg)
		return "", time.Time{}, fmt.Errorf("%w: %s %s", errTokenRefused, resp.Status, msg.Message)
	}
	var out struct {
		Token     string    `json:"token"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.Token == "" {
		return "", time.Time{}, fmt.Errorf("%w: no token in the answer", errTokenRefused)
	}
	if out.ExpiresAt.IsZero() {
		out.ExpiresAt = a.now().Add(time.Hour)
	}
	return out.Token, out.ExpiresAt, nil
}

// errTokenRefused means GitHub did not issue an installation token.
var errTokenRefused = errors.New("installation token refused")
