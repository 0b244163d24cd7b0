package httpclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

const (
	defaultTimeout    = 30 * time.Second
	defaultMaxRetries = 5
	defaultMaxWait    = 15 * time.Minute

	backoffBase = time.Second
	backoffCap  = 60 * time.Second

	// resetMargin is added to waits computed from a reset instant: reset
	// headers have second (Jira: minute) precision and clocks drift.
	resetMargin = time.Second

	// bodyExcerptLimit bounds what is read of a refused response's body.
	bodyExcerptLimit = 64 << 10
)

// New returns the HTTP client of one connector. Its transport clones
// http.DefaultTransport (proxy from HTTPS_PROXY/NO_PROXY), trusts
// o.CAFile in addition to the system roots, and around every request:
// holds it back while a known budget is at or below o.MinRemaining (not a
// conditional request: If-None-Match or If-Modified-Since), applies o.Auth
// to each attempt, bounds each attempt by o.Timeout, retries network
// errors, timeouts, 5xx, 429 and rate-limit 403s with full-jitter
// exponential backoff or the wait the upstream names, and counts all of it
// in o.Metrics.
//
// Request bodies must be replayable for retries: requests built by
// http.NewRequest from a *bytes.Reader, *bytes.Buffer or *strings.Reader
// carry GetBody and are replayed from it; any other body is read into
// memory once.
//
// Errors (from Do, wrapped by http.Client in a *url.Error that quotes the
// full URL: use Redact before logging or returning one): 401 and non-rate-
// limit 403 wrap ErrCredentials; a rate limit that resets beyond o.MaxWait,
// or still refuses after the last retry, wraps ErrRateLimited; 5xx, network
// errors and timeouts after the last retry name the method, the URL path
// and the status. Other statuses are returned as responses, body intact.
func New(o Options) (*http.Client, error) {
	t, err := newTransport(o)
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: t}, nil
}

// Redact returns err without the *url.Error layer http.Client adds around
// transport errors, whose text quotes the full URL, query string included.
// errors.Is and errors.As keep working on the result.
func Redact(err error) error {
	for {
		ue, ok := err.(*url.Error)
		if !ok || ue.Err == nil {
			return err
		}
		err = ue.Err
	}
}

// transport is the RoundTripper behind New.
type transport struct {
	base       http.RoundTripper
	connector  string
	typ        string
	timeout    time.Duration
	maxRetries int
	maxWait    time.Duration
	minRemain  int
	window     time.Duration
	auth       func(*http.Request)
	limitsFn   LimitsFunc
	metrics    *Metrics
	log        *slog.Logger
	now        func() time.Time
	sleep      func(context.Context, time.Duration) error
	rand       func() float64

	mu     sync.Mutex
	limits map[limitKey]Limit // known budgets with a reset, by resource (and endpoint)
}

type limitKey struct {
	resource string
	endpoint string // "METHOD /path" for a per-endpoint budget, "" for a shared one
}

func newTransport(o Options) (*transport, error) {
	t := &transport{
		connector:  o.Connector,
		typ:        o.Type,
		timeout:    o.Timeout,
		maxRetries: o.MaxRetries,
		maxWait:    o.MaxWait,
		minRemain:  max(o.MinRemaining, 0),
		window:     o.RateLimitWindow,
		auth:       o.Auth,
		limitsFn:   o.Limits,
		metrics:    o.Metrics,
		log:        o.Logger,
		now:        o.Now,
		sleep:      o.Sleep,
		rand:       o.Rand,
		limits:     map[limitKey]Limit{},
	}
	if t.timeout <= 0 {
		t.timeout = defaultTimeout
	}
	t.metrics.init(t.connector, t.typ)
	switch {
	case t.maxRetries == 0:
		t.maxRetries = defaultMaxRetries
	case t.maxRetries < 0:
		t.maxRetries = 0
	}
	if t.maxWait <= 0 {
		t.maxWait = defaultMaxWait
	}
	if t.window <= 0 {
		switch o.Type {
		case "github":
			t.window = time.Minute
		case "hubspot":
			t.window = hubspotWindow
		}
	}
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	if t.now == nil {
		t.now = time.Now
	}
	if t.sleep == nil {
		t.sleep = Sleep
	}
	if t.rand == nil {
		t.rand = rand.Float64
	}
	base, err := baseTransport(o, t.log)
	if err != nil {
		return nil, err
	}
	t.base = base
	return t, nil
}

// baseTransport clones http.DefaultTransport with the connector's TLS
// settings and the proxy taken from the environment.
func baseTransport(o Options, log *slog.Logger) (*http.Transport, error) {
	var base *http.Transport
	if dt, ok := http.DefaultTransport.(*http.Transport); ok {
		base = dt.Clone()
	} else {
		base = &http.Transport{
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          100,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
		}
	}
	base.Proxy = http.ProxyFromEnvironment
	tc := base.TLSClientConfig
	if tc == nil {
		tc = &tls.Config{}
	} else {
		tc = tc.Clone()
	}
	if tc.MinVersion == 0 {
		tc.MinVersion = tls.VersionTLS12
	}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read ca_file %s: %w", o.CAFile, err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("load ca_file %s: no PEM certificate found", o.CAFile)
		}
		tc.RootCAs = pool
	}
	if o.InsecureSkipVerify {
		tc.InsecureSkipVerify = true
		log.Warn("tls certificate verification disabled for this connector (insecure_skip_verify); use ca_file to trust a private CA")
	}
	base.TLSClientConfig = tc
	return base, nil
}

// Sleep waits for d or until ctx ends, whichever comes first.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// RoundTrip sends req with the retries, waits and bookkeeping described
// on New.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	ep := req.Method + " " + req.URL.Path
	getBody, err := replayableBody(req)
	if err != nil {
		return nil, fmt.Errorf("%s: read request body: %w", ep, err)
	}
	conditional := req.Header.Get("If-None-Match") != "" || req.Header.Get("If-Modified-Since") != ""
	withAuth := t.auth != nil && sameOrigin(req)

	for attempt := 1; ; attempt++ {
		if !conditional {
			if err := t.holdForBudget(ctx, req, ep); err != nil {
				return nil, err
			}
		}
		out := t.attempt(ctx, req, ep, getBody, withAuth, attempt-1)
		if out.resp != nil || out.err != nil {
			return out.resp, out.err
		}
		if attempt > t.maxRetries {
			return nil, out.giveUp(ep, attempt)
		}
		t.metrics.retry(t.connector, t.typ, out.reason)
		level := slog.LevelDebug
		if out.reason == reasonRateLimited && out.wait >= 10*time.Second {
			level = slog.LevelInfo
		}
		t.log.Log(ctx, level, "retrying upstream request",
			"endpoint", req.URL.Path, "method", req.Method, "status", out.statusLabel(),
			"reason", out.reason, "attempt", attempt, "wait", out.wait)
		if err := t.pause(ctx, out.wait, out.reason == reasonRateLimited); err != nil {
			return nil, fmt.Errorf("%s: wait before retry: %w", ep, err)
		}
	}
}

// outcome is what one attempt leads to: a response to return, an error to
// return, or a retry after wait.
type outcome struct {
	resp *http.Response
	err  error

	reason  string
	wait    time.Duration
	status  int    // 0 when no response came
	detail  string // for the final error: the upstream message, if any
	netErr  error
	timeout time.Duration
}

func (o outcome) statusLabel() string {
	if o.status == 0 {
		return "error"
	}
	return fmt.Sprint(o.status)
}

// giveUp is the error once retries are exhausted.
func (o outcome) giveUp(ep string, attempts int) error {
	switch o.reason {
	case reasonTimeout:
		return fmt.Errorf("%s: no response within %s, after %s", ep, o.timeout, plural(attempts, "attempt"))
	case reasonNetwork:
		return fmt.Errorf("%s: network error after %s: %w", ep, plural(attempts, "attempt"), o.netErr)
	case reasonRateLimited:
		return fmt.Errorf("%s: %s after %s: %w%s", ep, statusText(o.status), plural(attempts, "attempt"), ErrRateLimited, o.detail)
	default:
		return fmt.Errorf("%s: %s after %s%s", ep, statusText(o.status), plural(attempts, "attempt"), o.detail)
	}
}

// attempt sends one try of req and classifies what came back.
// retry is the number of retries before this attempt (0 for the first).
func (t *transport) attempt(ctx context.Context, req *http.Request, ep string, getBody func() (io.ReadCloser, error), withAuth bool, retry int) outcome {
	actx, cancel := context.WithTimeout(ctx, t.timeout)
	r := req.Clone(actx)
	if getBody != nil {
		body, err := getBody()
		if err != nil {
			cancel()
			return outcome{err: fmt.Errorf("%s: replay request body: %w", ep, err)}
		}
		r.Body = body
		r.GetBody = getBody
	}
	if withAuth {
		t.auth(r)
	}

	resp, err := t.base.RoundTrip(r)
	if err != nil {
		cancel()
		t.metrics.request(t.connector, t.typ, 0)
		if cerr := ctx.Err(); cerr != nil {
			return outcome{err: fmt.Errorf("%s: %w", ep, cerr)}
		}
		if isCertificateError(err) {
			return outcome{err: fmt.Errorf("%s: tls: %w (set ca_file to trust a private CA)", ep, err)}
		}
		o := outcome{reason: reasonNetwork, netErr: err, wait: t.backoff(retry), timeout: t.timeout}
		if errors.Is(actx.Err(), context.DeadlineExceeded) || isTimeout(err) {
			o.reason = reasonTimeout
		}
		return o
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	t.metrics.request(t.connector, t.typ, resp.StatusCode)
	limits := t.observe(resp, ep)

	code := resp.StatusCode
	switch {
	case code == http.StatusUnauthorized:
		body := drain(resp)
		return outcome{err: t.credentialsError(ep, code, body, r)}
	case code == http.StatusForbidden || code == http.StatusTooManyRequests:
		body := drain(resp)
		if code == http.StatusForbidden && !isRateLimitRefusal(resp.Header, body, limits) {
			return outcome{err: t.credentialsError(ep, code, body, r)}
		}
		return t.rateLimited(ep, resp, body, limits, r, retry)
	case code >= 500:
		body := drain(resp)
		o := outcome{reason: reasonServerError, status: code, detail: upstreamSays(body, r)}
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), t.now()); ok {
			if d > t.maxWait {
				return outcome{err: fmt.Errorf("%s: %s: upstream asks to retry in %s, beyond max wait %s%s",
					ep, statusText(code), d.Round(time.Second), t.maxWait, o.detail)}
			}
			o.wait = d
		} else {
			o.wait = t.backoff(retry)
		}
		return o
	default:
		return outcome{resp: resp}
	}
}

// rateLimited decides the wait after a 429 or a rate-limit 403.
func (t *transport) rateLimited(ep string, resp *http.Response, body []byte, limits []Limit, r *http.Request, retry int) outcome {
	code := resp.StatusCode
	now := t.now()
	says := upstreamSays(body, r)
	o := outcome{reason: reasonRateLimited, status: code, detail: says}

	policy := hubspotPolicy(body)
	if policy == "DAILY" {
		return outcome{err: fmt.Errorf("%s: %s: %w: daily request limit reached, it resets at midnight in the portal's time zone%s",
			ep, statusText(code), ErrRateLimited, says)}
	}

	var (
		wait  time.Duration
		until time.Time // when the upstream will take the request again
		what  string
	)
	if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), now); ok {
		wait, until, what = d, now.Add(d), "upstream asks to retry"
	} else if l, ok := latestExhausted(limits, now); ok {
		wait, until, what = l.Reset.Sub(now)+resetMargin, l.Reset, l.Resource+" budget resets"
	} else {
		window := t.window
		switch policy {
		case "SECONDLY":
			window = time.Second
		case "TEN_SECONDLY_ROLLING":
			window = hubspotWindow
		}
		wait = max(window, t.backoff(retry))
		until, what = now.Add(wait), "limit resets"
	}
	if wait > t.maxWait {
		return outcome{err: fmt.Errorf("%s: %s: %w: %s at %s (in %s), beyond max wait %s%s",
			ep, statusText(code), ErrRateLimited, what, until.UTC().Format(time.RFC3339),
			until.Sub(now).Round(time.Second), t.maxWait, says)}
	}
	o.wait = wait
	return o
}

// latestExhausted returns, among the budgets a response reports empty with
// a future reset, the one that resets last.
func latestExhausted(limits []Limit, now time.Time) (Limit, bool) {
	var best Limit
	found := false
	for _, l := range limits {
		if l.Remaining > 0 || !l.Reset.After(now) {
			continue
		}
		if !found || l.Reset.After(best.Reset) {
			best, found = l, true
		}
	}
	return best, found
}

// isRateLimitRefusal tells a 403 that is a rate limit (GitHub answers its
// primary and secondary limits with 403 or 429) from a permission refusal.
func isRateLimitRefusal(h http.Header, body []byte, limits []Limit) bool {
	if h.Get("Retry-After") != "" || strings.TrimSpace(h.Get("X-RateLimit-Remaining")) == "0" {
		return true
	}
	for _, l := range limits {
		if l.Remaining <= 0 {
			return true
		}
	}
	return strings.Contains(strings.ToLower(upstreamMessage(body)), "rate limit")
}

// observe records the budgets a response reports: the remaining gauge per
// resource, and for the pre-send check every budget that has a reset.
func (t *transport) observe(resp *http.Response, ep string) []Limit {
	if t.limitsFn == nil {
		return nil
	}
	limits := t.limitsFn(resp.Header, t.now())
	if len(limits) == 0 {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, l := range limits {
		if l.Resource == "" {
			continue
		}
		t.metrics.setRemaining(t.connector, t.typ, l.Resource, l.Remaining)
		k := limitKey{resource: l.Resource}
		if l.PerEndpoint {
			k.endpoint = ep
		}
		if l.Reset.IsZero() {
			delete(t.limits, k)
			continue
		}
		t.limits[k] = l
	}
	return limits
}

// holdForBudget waits, before a request is sent, until every known budget
// that applies to it and is at or below min_remaining has reset; a reset
// beyond max wait ends with ErrRateLimited instead.
func (t *transport) holdForBudget(ctx context.Context, req *http.Request, ep string) error {
	now := t.now()
	var (
		worst Limit
		found bool
	)
	t.mu.Lock()
	for k, l := range t.limits {
		if !l.Reset.After(now) {
			delete(t.limits, k)
			continue
		}
		if k.endpoint != "" && k.endpoint != ep {
			continue
		}
		if l.Remaining > t.minRemain {
			continue
		}
		if !found || l.Reset.After(worst.Reset) {
			worst, found = l, true
		}
	}
	t.mu.Unlock()
	if !found {
		return nil
	}
	wait := worst.Reset.Sub(now) + resetMargin
	if wait > t.maxWait {
		return fmt.Errorf("%s: %w: %s has %d left (min_remaining %d), resets at %s (in %s), beyond max wait %s",
			ep, ErrRateLimited, worst.Resource, worst.Remaining, t.minRemain,
			worst.Reset.UTC().Format(time.RFC3339), worst.Reset.Sub(now).Round(time.Second), t.maxWait)
	}
	t.log.Info("waiting for rate limit reset", "endpoint", req.URL.Path, "method", req.Method,
		"resource", worst.Resource, "remaining", worst.Remaining, "wait", wait)
	if err := t.pause(ctx, wait, true); err != nil {
		return fmt.Errorf("%s: wait for %s rate limit reset: %w", ep, worst.Resource, err)
	}
	return nil
}

// pause sleeps d; rate-limit waits are counted in the wait metric.
func (t *transport) pause(ctx context.Context, d time.Duration, rateLimit bool) error {
	if d <= 0 {
		return ctx.Err()
	}
	start := t.now()
	err := t.sleep(ctx, d)
	if rateLimit {
		waited := d
		if err != nil {
			waited = min(max(t.now().Sub(start), 0), d)
		}
		t.metrics.wait(t.connector, t.typ, waited.Seconds())
	}
	return err
}

// backoff is the full-jitter exponential backoff before retry number n
// (0 for the first): a uniform draw in [0, min(cap, base·2ⁿ)).
func (t *transport) backoff(n int) time.Duration {
	ceil := backoffCap
	if n < 16 {
		ceil = min(backoffBase<<n, backoffCap)
	}
	return time.Duration(t.rand() * float64(ceil))
}

// credentialsError describes a 401 or a non-rate-limit 403.
func (t *transport) credentialsError(ep string, code int, body []byte, r *http.Request) error {
	return fmt.Errorf("%s: %s: %w (check the token and its permissions)%s",
		ep, statusText(code), ErrCredentials, upstreamSays(body, r))
}

// replayableBody returns how to get a fresh copy of req's body for each
// attempt (nil when there is no body). A body without GetBody is read into
// memory once.
func replayableBody(req *http.Request) (func() (io.ReadCloser, error), error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	if req.GetBody != nil {
		_ = req.Body.Close()
		return req.GetBody, nil
	}
	buf, err := io.ReadAll(req.Body)
	_ = req.Body.Close()
	if err != nil {
		return nil, err
	}
	return func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(buf)), nil
	}, nil
}

// sameOrigin reports whether req goes to the scheme and host of the first
// request of its redirect chain: credentials never follow a redirect to
// another host or down to plain http.
func sameOrigin(req *http.Request) bool {
	first := req
	for first.Response != nil && first.Response.Request != nil {
		first = first.Response.Request
	}
	if first == req {
		return true
	}
	return strings.EqualFold(first.URL.Host, req.URL.Host) &&
		!(first.URL.Scheme == "https" && req.URL.Scheme != "https")
}

func isTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func isCertificateError(err error) bool {
	var (
		verr *tls.CertificateVerificationError
		uerr x509.UnknownAuthorityError
		herr x509.HostnameError
		ierr x509.CertificateInvalidError
	)
	return errors.As(err, &verr) || errors.As(err, &uerr) || errors.As(err, &herr) || errors.As(err, &ierr)
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func statusText(code int) string {
	if s := http.StatusText(code); s != "" {
		return fmt.Sprintf("%d %s", code, s)
	}
	return fmt.Sprint(code)
}

// drain reads up to bodyExcerptLimit of a response that will not be
// returned, and closes it.
func drain(resp *http.Response) []byte {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, bodyExcerptLimit))
	_ = resp.Body.Close()
	return body
}

// cancelOnClose ends an attempt's context when its response body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}
