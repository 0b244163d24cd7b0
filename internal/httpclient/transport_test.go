package httpclient

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestRetries(t *testing.T) {
	ok := reply{status: 200, body: `{"ok":true}`}
	bad := reply{status: 502, body: `{"message":"upstream hiccup"}`}
	resetIn := func(d time.Duration, extra ...string) func(time.Time) http.Header {
		return func(now time.Time) http.Header {
			h := hdr(extra...)(now)
			h.Set("X-RateLimit-Remaining", "0")
			h.Set("X-RateLimit-Reset", strconv.FormatInt(now.Add(d).Unix(), 10))
			return h
		}
	}
	tests := []struct {
		name       string
		typ        string
		limits     LimitsFunc
		maxRetries int
		replies    []reply

		wantStatus   int
		wantBody     string
		wantErrIs    error
		wantErr      string // substring of the error
		wantSlept    []time.Duration
		wantRetries  map[string]float64 // reason -> count
		wantCodes    map[string]float64 // code -> count
		wantWaitSecs float64
	}{
		{
			name:        "429 with Retry-After seconds",
			replies:     []reply{{status: 429, header: hdr("Retry-After", "7")}, ok},
			wantStatus:  200,
			wantBody:    `{"ok":true}`,
			wantSlept:   durations(7),
			wantRetries: map[string]float64{"rate_limited": 1},
			wantCodes:   map[string]float64{"429": 1, "200": 1}, wantWaitSecs: 7,
		},
		{
			name: "429 with Retry-After HTTP date",
			replies: []reply{{status: 429, header: func(now time.Time) http.Header {
				return http.Header{"Retry-After": {now.Add(30 * time.Second).Format(http.TimeFormat)}}
			}}, ok},
			wantStatus:  200,
			wantSlept:   durations(30),
			wantRetries: map[string]float64{"rate_limited": 1},
			wantCodes:   map[string]float64{"429": 1, "200": 1}, wantWaitSecs: 30,
		},
		{
			name:        "502 then 200 backs off with full jitter",
			replies:     []reply{bad, ok},
			wantStatus:  200,
			wantSlept:   durations(0.5),
			wantRetries: map[string]float64{"server_error": 1},
			wantCodes:   map[string]float64{"502": 1, "200": 1},
		},
		{
			name:        "503 with Retry-After honoured",
			replies:     []reply{{status: 503, header: hdr("Retry-After", "5")}, ok},
			wantStatus:  200,
			wantSlept:   durations(5),
			wantRetries: map[string]float64{"server_error": 1},
			wantCodes:   map[string]float64{"503": 1, "200": 1},
		},
		{
			name:        "502 until retries are exhausted",
			replies:     []reply{bad, bad, bad, bad, bad, bad},
			wantErr:     `GET /repos/acme/api/pulls: 502 Bad Gateway after 6 attempts: upstream says "upstream hiccup"`,
			wantSlept:   durations(0.5, 1, 2, 4, 8),
			wantRetries: map[string]float64{"server_error": 5},
			wantCodes:   map[string]float64{"502": 6},
		},
		{
			name:        "backoff ceiling grows to the cap",
			maxRetries:  8,
			replies:     []reply{bad, bad, bad, bad, bad, bad, bad, bad, bad},
			wantErr:     "502 Bad Gateway after 9 attempts",
			wantSlept:   durations(0.5, 1, 2, 4, 8, 16, 30, 30),
			wantRetries: map[string]float64{"server_error": 8},
			wantCodes:   map[string]float64{"502": 9},
		},
		{
			name:        "401 is a credentials error, not retried",
			replies:     []reply{{status: 401, body: `{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}`}},
			wantErrIs:   ErrCredentials,
			wantErr:     `GET /repos/acme/api/pulls: 401 Unauthorized: credentials rejected (check the token and its permissions): upstream says "Bad credentials"`,
			wantCodes:   map[string]float64{"401": 1},
			wantRetries: map[string]float64{},
		},
		{
			name:   "403 without rate limit is a credentials error",
			limits: GitHubLimits,
			replies: []reply{{status: 403, header: hdr("X-RateLimit-Remaining", "4999", "X-RateLimit-Reset", "1772449200"),
				body: `{"message":"Resource not accessible by integration"}`}},
			wantErrIs: ErrCredentials,
			wantErr:   `403 Forbidden: credentials rejected (check the token and its permissions): upstream says "Resource not accessible by integration"`,
			wantCodes: map[string]float64{"403": 1},
		},
		{
			name:        "403 primary rate limit waits until the reset",
			limits:      GitHubLimits,
			replies:     []reply{{status: 403, header: resetIn(120 * time.Second), body: `{"message":"API rate limit exceeded for user ID 1."}`}, ok},
			wantStatus:  200,
			wantSlept:   durations(121),
			wantRetries: map[string]float64{"rate_limited": 1},
			wantCodes:   map[string]float64{"403": 1, "200": 1}, wantWaitSecs: 121,
		},
		{
			name:        "429 primary rate limit waits until the reset",
			limits:      GitHubLimits,
			replies:     []reply{{status: 429, header: resetIn(40 * time.Second)}, ok},
			wantStatus:  200,
			wantSlept:   durations(41),
			wantRetries: map[string]float64{"rate_limited": 1},
			wantCodes:   map[string]float64{"429": 1, "200": 1}, wantWaitSecs: 41,
		},
		{
			name:      "reset beyond max wait ends with ErrRateLimited",
			limits:    GitHubLimits,
			replies:   []reply{{status: 403, header: resetIn(time.Hour)}},
			wantErrIs: ErrRateLimited,
			wantErr:   "GET /repos/acme/api/pulls: 403 Forbidden: rate limit exhausted: core budget resets at 2026-03-02T11:00:00Z (in 1h0m0s), beyond max wait 15m0s",
			wantCodes: map[string]float64{"403": 1},
		},
		{
			name:        "403 secondary limit with Retry-After",
			limits:      GitHubLimits,
			replies:     []reply{{status: 403, header: hdr("Retry-After", "60", "X-RateLimit-Remaining", "4000"), body: `{"message":"You have exceeded a secondary rate limit."}`}, ok},
			wantStatus:  200,
			wantSlept:   durations(60),
			wantRetries: map[string]float64{"rate_limited": 1},
			wantCodes:   map[string]float64{"403": 1, "200": 1}, wantWaitSecs: 60,
		},
		{
			name:        "403 secondary limit without headers waits a minute",
			limits:      GitHubLimits,
			replies:     []reply{{status: 403, body: `{"message":"You have exceeded a secondary rate limit. Please wait a few minutes."}`}, ok},
			wantStatus:  200,
			wantSlept:   durations(60),
			wantRetries: map[string]float64{"rate_limited": 1},
			wantCodes:   map[string]float64{"403": 1, "200": 1}, wantWaitSecs: 60,
		},
		{
			name:      "Retry-After beyond max wait ends with ErrRateLimited",
			replies:   []reply{{status: 429, header: hdr("Retry-After", "3600")}},
			wantErrIs: ErrRateLimited,
			wantErr:   "upstream asks to retry at 2026-03-02T11:00:00Z (in 1h0m0s), beyond max wait 15m0s",
			wantCodes: map[string]float64{"429": 1},
		},
		{
			name:        "429 until retries are exhausted",
			maxRetries:  2,
			replies:     []reply{{status: 429, header: hdr("Retry-After", "1")}, {status: 429, header: hdr("Retry-After", "1")}, {status: 429, header: hdr("Retry-After", "1")}},
			wantErrIs:   ErrRateLimited,
			wantErr:     "GET /repos/acme/api/pulls: 429 Too Many Requests after 3 attempts: rate limit exhausted",
			wantSlept:   durations(1, 1),
			wantRetries: map[string]float64{"rate_limited": 2},
			wantCodes:   map[string]float64{"429": 3}, wantWaitSecs: 2,
		},
		{
			name:   "HubSpot daily limit ends at once",
			typ:    "hubspot",
			limits: HubSpotLimits,
			replies: []reply{{status: 429, header: hdr("X-HubSpot-RateLimit-Daily-Remaining", "0"),
				body: `{"status":"error","message":"You have reached your daily limit.","errorType":"RATE_LIMIT","policyName":"DAILY"}`}},
			wantErrIs: ErrRateLimited,
			wantErr:   `429 Too Many Requests: rate limit exhausted: daily request limit reached, it resets at midnight in the portal's time zone: upstream says "You have reached your daily limit."`,
			wantCodes: map[string]float64{"429": 1},
		},
		{
			name:   "HubSpot burst limit waits out the interval",
			typ:    "hubspot",
			limits: HubSpotLimits,
			replies: []reply{{status: 429, header: hdr("X-HubSpot-RateLimit-Remaining", "0", "X-HubSpot-RateLimit-Interval-Milliseconds", "10000"),
				body: `{"status":"error","message":"You have reached your ten_secondly_rolling limit.","errorType":"RATE_LIMIT","policyName":"TEN_SECONDLY_ROLLING"}`}, ok},
			wantStatus:  200,
			wantSlept:   durations(11),
			wantRetries: map[string]float64{"rate_limited": 1},
			wantCodes:   map[string]float64{"429": 1, "200": 1}, wantWaitSecs: 11,
		},
		{
			name:        "HubSpot 429 with nothing to go by waits 10s",
			typ:         "hubspot",
			limits:      HubSpotLimits,
			replies:     []reply{{status: 429, body: `{"status":"error","errorType":"RATE_LIMIT"}`}, ok},
			wantStatus:  200,
			wantSlept:   durations(10),
			wantRetries: map[string]float64{"rate_limited": 1},
			wantCodes:   map[string]float64{"429": 1, "200": 1}, wantWaitSecs: 10,
		},
		{
			name:        "Jira 429 with Retry-After and ISO reset",
			typ:         "jira",
			limits:      JiraLimits,
			replies:     []reply{{status: 429, header: hdr("Retry-After", "3", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "2026-03-02T10:01Z")}, ok},
			wantStatus:  200,
			wantSlept:   durations(3),
			wantRetries: map[string]float64{"rate_limited": 1},
			wantCodes:   map[string]float64{"429": 1, "200": 1}, wantWaitSecs: 3,
		},
		{
			name:       "404 returned untouched",
			replies:    []reply{{status: 404, body: `{"message":"Not Found"}`}},
			wantStatus: 404,
			wantBody:   `{"message":"Not Found"}`,
			wantCodes:  map[string]float64{"404": 1},
		},
		{
			name:       "304 returned untouched",
			replies:    []reply{{status: 304, header: hdr("ETag", `"abc"`)}},
			wantStatus: 304,
			wantCodes:  map[string]float64{"304": 1},
		},
		{
			name:       "422 returned untouched",
			replies:    []reply{{status: 422, body: `{"message":"Validation Failed"}`}},
			wantStatus: 422,
			wantBody:   `{"message":"Validation Failed"}`,
			wantCodes:  map[string]float64{"422": 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			up := newUpstream(t, c, tc.replies...)
			typ := tc.typ
			if typ == "" {
				typ = "github"
			}
			var logs bytes.Buffer
			cl, m := testClient(t, c, Options{
				Type: typ, Limits: tc.limits, MaxRetries: tc.maxRetries,
				Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
			})
			req, _ := http.NewRequest(http.MethodGet, up.srv.URL+"/repos/acme/api/pulls?state=all&access_token="+testQuerySecret, nil)
			resp, err := cl.Do(req)

			switch {
			case tc.wantErr != "" || tc.wantErrIs != nil:
				if err == nil {
					resp.Body.Close()
					t.Fatalf("got status %d, want an error", resp.StatusCode)
				}
				if tc.wantErrIs != nil && !errors.Is(err, tc.wantErrIs) {
					t.Errorf("error %v does not wrap %v", err, tc.wantErrIs)
				}
				got := Redact(err).Error()
				if !strings.Contains(got, tc.wantErr) {
					t.Errorf("error\n got: %s\nwant: …%s…", got, tc.wantErr)
				}
				assertNoSecret(t, "error", got)
				if strings.Contains(got, "state=all") {
					t.Errorf("error quotes the query string: %s", got)
				}
			default:
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tc.wantStatus {
					t.Errorf("status %d, want %d", resp.StatusCode, tc.wantStatus)
				}
				if tc.wantBody != "" && string(body) != tc.wantBody {
					t.Errorf("body %q, want %q", body, tc.wantBody)
				}
			}
			if got := c.Slept(); !slices.Equal(got, tc.wantSlept) {
				t.Errorf("slept %v, want %v", got, tc.wantSlept)
			}
			got := up.requests()
			if want := int(sumValues(tc.wantCodes)); len(got) != want {
				t.Errorf("upstream saw %d requests, want %d", len(got), want)
			}
			for i, s := range got {
				if s.auth != "Bearer "+testToken {
					t.Errorf("attempt %d: Authorization %q, want the token on every attempt", i+1, s.auth)
				}
			}
			for code, want := range tc.wantCodes {
				if v := counter(m, "requests", "acme", typ, code); v != want {
					t.Errorf("requests_total{code=%q} = %v, want %v", code, v, want)
				}
			}
			for _, reason := range []string{"rate_limited", "server_error", "network", "timeout"} {
				if v := counter(m, "retries", "acme", typ, reason); v != tc.wantRetries[reason] {
					t.Errorf("retries_total{reason=%q} = %v, want %v", reason, v, tc.wantRetries[reason])
				}
			}
			if v := counter(m, "waited", "acme", typ); v != tc.wantWaitSecs {
				t.Errorf("rate_limit_wait_seconds_total = %v, want %v", v, tc.wantWaitSecs)
			}
			assertNoSecret(t, "logs", logs.String())
			if n := strings.Count(logs.String(), "retrying upstream request"); n != len(tc.wantSlept) {
				t.Errorf("%d retry log lines, want %d:\n%s", n, len(tc.wantSlept), logs.String())
			}
		})
	}
}

func sumValues(m map[string]float64) float64 {
	var s float64
	for _, v := range m {
		s += v
	}
	return s
}

func TestRetryLogLine(t *testing.T) {
	c := newClock()
	up := newUpstream(t, c, reply{status: 503, header: hdr("Retry-After", "2")}, reply{status: 200})
	var logs bytes.Buffer
	cl, _ := testClient(t, c, Options{Connector: "acme-zendesk", Type: "zendesk",
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})).With("connector", "acme-zendesk")})
	resp, err := cl.Get(up.srv.URL + "/api/v2/incremental/tickets/cursor.json?cursor=abc")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	line := logs.String()
	for _, want := range []string{
		"level=DEBUG", `msg="retrying upstream request"`, "connector=acme-zendesk",
		"endpoint=/api/v2/incremental/tickets/cursor.json", "method=GET", "status=503",
		"reason=server_error", "attempt=1", "wait=2s",
	} {
		if !strings.Contains(line, want) {
			t.Errorf("log line lacks %q:\n%s", want, line)
		}
	}
	if strings.Contains(line, "cursor=abc") {
		t.Errorf("log line quotes the query string:\n%s", line)
	}
}

func TestNetworkErrors(t *testing.T) {
	t.Run("connection closed, then success", func(t *testing.T) {
		c := newClock()
		up := newUpstream(t, c, reply{hangup: true}, reply{status: 200, body: "{}"})
		cl, m := testClient(t, c, Options{})
		resp, err := cl.Get(up.srv.URL + "/repos/acme/api/pulls")
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("status %d, want 200", resp.StatusCode)
		}
		if v := counter(m, "retries", "acme", "github", "network"); v != 1 {
			t.Errorf("retries{network} = %v, want 1", v)
		}
		if v := counter(m, "requests", "acme", "github", "error"); v != 1 {
			t.Errorf("requests{code=error} = %v, want 1", v)
		}
		if got := c.Slept(); !slices.Equal(got, durations(0.5)) {
			t.Errorf("slept %v, want [500ms]", got)
		}
	})
	t.Run("server gone, retries exhausted", func(t *testing.T) {
		c := newClock()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		cl, m := testClient(t, c, Options{MaxRetries: 2})
		_, err = cl.Get("http://" + addr + "/repos/acme/api/pulls?access_token=" + testQuerySecret)
		if err == nil {
			t.Fatal("want an error")
		}
		got := Redact(err).Error()
		if !strings.HasPrefix(got, "GET /repos/acme/api/pulls: network error after 3 attempts: ") {
			t.Errorf("error %q", got)
		}
		assertNoSecret(t, "error", got)
		if v := counter(m, "retries", "acme", "github", "network"); v != 2 {
			t.Errorf("retries{network} = %v, want 2", v)
		}
		if v := counter(m, "requests", "acme", "github", "error"); v != 3 {
			t.Errorf("requests{code=error} = %v, want 3", v)
		}
	})
}

func TestPerAttemptTimeout(t *testing.T) {
	c := newClock()
	release := make(chan struct{})
	defer close(release)
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			select { // hold the first attempt until the client gives up on it
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		w.WriteHeader(200)
	}))
	defer srv.Close()
	cl, m := testClient(t, c, Options{Timeout: 50 * time.Millisecond})
	resp, err := cl.Get(srv.URL + "/slow")
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	resp.Body.Close()
	if v := counter(m, "retries", "acme", "github", "timeout"); v != 1 {
		t.Errorf("retries{timeout} = %v, want 1", v)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("%d calls, want 2", n)
	}
}

func TestTimeoutExhausted(t *testing.T) {
	c := newClock()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer srv.Close()
	cl, _ := testClient(t, c, Options{Timeout: 20 * time.Millisecond, MaxRetries: -1})
	_, err := cl.Get(srv.URL + "/slow")
	if err == nil {
		t.Fatal("want an error")
	}
	if got, want := Redact(err).Error(), "GET /slow: no response within 20ms, after 1 attempt"; got != want {
		t.Errorf("error %q, want %q", got, want)
	}
}

func TestCanceledContextStopsRetrying(t *testing.T) {
	c := newClock()
	up := newUpstream(t, c, reply{status: 502})
	cl, _ := testClient(t, c, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	// The fake sleep refuses once the context is canceled: cancel on the
	// first retry wait.
	cl.Transport.(*transport).sleep = func(ctx context.Context, d time.Duration) error {
		cancel()
		return ctx.Err()
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, up.srv.URL+"/x", nil)
	_, err := cl.Do(req)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if n := len(up.requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestBodyReplayedOnRetry(t *testing.T) {
	tests := []struct {
		name string
		body func() io.Reader
	}{
		{"bytes reader (GetBody)", func() io.Reader { return bytes.NewReader([]byte(`{"limit":200}`)) }},
		{"strings reader (GetBody)", func() io.Reader { return strings.NewReader(`{"limit":200}`) }},
		{"opaque reader (buffered)", func() io.Reader { return io.MultiReader(strings.NewReader(`{"limit":`), strings.NewReader(`200}`)) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			up := newUpstream(t, c, reply{status: 502}, reply{hangup: true}, reply{status: 200, body: "{}"})
			cl, _ := testClient(t, c, Options{Type: "hubspot"})
			req, _ := http.NewRequest(http.MethodPost, up.srv.URL+"/crm/v3/objects/deals/search", tc.body())
			req.Header.Set("Content-Type", "application/json")
			resp, err := cl.Do(req)
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			resp.Body.Close()
			got := up.requests()
			if len(got) != 3 {
				t.Fatalf("%d requests, want 3", len(got))
			}
			for i, s := range got {
				if s.body != `{"limit":200}` {
					t.Errorf("attempt %d body %q", i+1, s.body)
				}
				if s.method != http.MethodPost {
					t.Errorf("attempt %d method %s", i+1, s.method)
				}
			}
			if req.Header.Get("Authorization") != "" {
				t.Error("the caller's request was modified: Authorization set on it")
			}
		})
	}
}

func TestSecretsStayOut(t *testing.T) {
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("ops@acme.com/token:"+testToken))
	tests := []struct {
		name  string
		auth  func(*http.Request)
		reply reply
	}{
		{"bearer token echoed in a 401", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+testToken) },
			reply{status: 401, body: `{"message":"token ` + testToken + ` is not valid"}`}},
		{"basic auth echoed in a 403", func(r *http.Request) { r.Header.Set("Authorization", basic) },
			reply{status: 403, body: `{"error":{"title":"Forbidden","message":"user ops@acme.com/token:` + testToken + ` lacks access"}}`}},
		{"token echoed in a 5xx", func(r *http.Request) { r.Header.Set("Authorization", "token "+testToken) },
			reply{status: 500, body: `{"errorMessages":["bad ` + testToken + `"]}`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			up := newUpstream(t, c, tc.reply)
			var logs bytes.Buffer
			cl, _ := testClient(t, c, Options{Auth: tc.auth, MaxRetries: -1,
				Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			_, err := cl.Get(up.srv.URL + "/api/v2/users/me?access_token=" + testQuerySecret)
			if err == nil {
				t.Fatal("want an error")
			}
			msg := Redact(err).Error()
			assertNoSecret(t, "error", msg)
			assertNoSecret(t, "logs", logs.String())
			if !strings.Contains(msg, "<redacted>") {
				t.Errorf("error %q: want the echoed secret replaced by <redacted>", msg)
			}
		})
	}
}

func TestExcerptIsCapped(t *testing.T) {
	c := newClock()
	long := strings.Repeat("x", 500)
	up := newUpstream(t, c, reply{status: 401, body: `{"message":"` + long + `"}`})
	cl, _ := testClient(t, c, Options{})
	_, err := cl.Get(up.srv.URL + "/user")
	if err == nil {
		t.Fatal("want an error")
	}
	msg := Redact(err).Error()
	if strings.Contains(msg, strings.Repeat("x", 201)) || !strings.Contains(msg, strings.Repeat("x", 200)+"…") {
		t.Errorf("excerpt not capped at 200 characters: %d bytes", len(msg))
	}
}

func TestMinRemainingHoldsRequests(t *testing.T) {
	left := func(n int, reset time.Duration) reply {
		return reply{status: 200, header: func(now time.Time) http.Header {
			return http.Header{
				"X-Ratelimit-Remaining": {strconv.Itoa(n)},
				"X-Ratelimit-Reset":     {strconv.FormatInt(now.Add(reset).Unix(), 10)},
				"X-Ratelimit-Resource":  {"core"},
			}
		}}
	}
	tests := []struct {
		name         string
		minRemaining int
		first        reply
		second       http.Header // headers of the second request
		secondReply  []reply
		wantSlept    []time.Duration
		wantErrIs    error
		wantRequests int
	}{
		{name: "above min_remaining goes at once", minRemaining: 10, first: left(11, 100*time.Second),
			secondReply: []reply{{status: 200}}, wantRequests: 2},
		{name: "at min_remaining waits for the reset", minRemaining: 10, first: left(10, 100*time.Second),
			secondReply: []reply{{status: 200}}, wantSlept: durations(101), wantRequests: 2},
		{name: "empty budget waits with min_remaining 0", first: left(0, 30*time.Second),
			secondReply: []reply{{status: 200}}, wantSlept: durations(31), wantRequests: 2},
		{name: "reset beyond max wait is ErrRateLimited, nothing sent", minRemaining: 100, first: left(50, time.Hour),
			wantErrIs: ErrRateLimited, wantRequests: 1},
		{name: "conditional request bypasses the check", first: left(0, time.Hour),
			second: http.Header{"If-None-Match": {`"etag-1"`}}, secondReply: []reply{{status: 304}}, wantRequests: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			up := newUpstream(t, c, append([]reply{tc.first}, tc.secondReply...)...)
			cl, m := testClient(t, c, Options{Limits: GitHubLimits, MinRemaining: tc.minRemaining})
			resp, err := cl.Get(up.srv.URL + "/repos/acme/api/pulls")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			req, _ := http.NewRequest(http.MethodGet, up.srv.URL+"/repos/acme/web/pulls", nil)
			for k, vs := range tc.second {
				req.Header[k] = vs
			}
			resp, err = cl.Do(req)
			if tc.wantErrIs != nil {
				if !errors.Is(err, tc.wantErrIs) {
					t.Fatalf("error %v, want %v", err, tc.wantErrIs)
				}
				msg := Redact(err).Error()
				if !strings.Contains(msg, "GET /repos/acme/web/pulls: rate limit exhausted: core has 50 left (min_remaining 100), resets at 2026-03-02T11:00:00Z") {
					t.Errorf("error %q", msg)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
			}
			if got := c.Slept(); !slices.Equal(got, tc.wantSlept) {
				t.Errorf("slept %v, want %v", got, tc.wantSlept)
			}
			if n := len(up.requests()); n != tc.wantRequests {
				t.Errorf("%d requests, want %d", n, tc.wantRequests)
			}
			var wantWait float64
			for _, d := range tc.wantSlept {
				wantWait += d.Seconds()
			}
			if v := counter(m, "waited", "acme", "github"); v != wantWait {
				t.Errorf("wait seconds %v, want %v", v, wantWait)
			}
		})
	}
}

func TestPerEndpointBudgetHoldsOnlyItsEndpoint(t *testing.T) {
	c := newClock()
	exhausted := reply{status: 200, header: hdr("Zendesk-RateLimit-incremental-exports", "total=10; remaining=0; resets=20",
		"Ratelimit-Remaining", "390", "Ratelimit-Reset", "40")}
	up := newUpstream(t, c, exhausted, reply{status: 200}, reply{status: 200})
	cl, m := testClient(t, c, Options{Type: "zendesk", Limits: ZendeskLimits})
	get := func(path string) {
		t.Helper()
		resp, err := cl.Get(up.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	get("/api/v2/incremental/tickets/cursor.json")
	get("/api/v2/search/export")
	if got := c.Slept(); len(got) != 0 {
		t.Errorf("another endpoint was held back: slept %v", got)
	}
	get("/api/v2/incremental/tickets/cursor.json")
	if got := c.Slept(); !slices.Equal(got, durations(21)) {
		t.Errorf("slept %v, want [21s] before the export endpoint", got)
	}
	if v := counter(m, "remaining", "acme", "zendesk", "export"); v != 0 {
		t.Errorf("remaining{export} = %v, want 0", v)
	}
	if v := counter(m, "remaining", "acme", "zendesk", "account"); v != 390 {
		t.Errorf("remaining{account} = %v, want 390", v)
	}
}

func TestRedirects(t *testing.T) {
	c := newClock()
	var (
		mu                  sync.Mutex
		otherAuth, sameAuth []string
	)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		otherAuth = append(otherAuth, r.Header.Get("Authorization"))
	}))
	defer other.Close()
	var self *httptest.Server
	self = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/moved":
			http.Redirect(w, r, self.URL+"/here", http.StatusMovedPermanently)
		case "/away":
			http.Redirect(w, r, other.URL+"/there", http.StatusFound)
		case "/here":
			mu.Lock()
			defer mu.Unlock()
			sameAuth = append(sameAuth, r.Header.Get("Authorization"))
		}
	}))
	defer self.Close()
	cl, _ := testClient(t, c, Options{})
	for _, p := range []string{"/moved", "/away"} {
		resp, err := cl.Get(self.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(sameAuth, []string{"Bearer " + testToken}) {
		t.Errorf("same-host redirect: Authorization %q, want the token", sameAuth)
	}
	if !slices.Equal(otherAuth, []string{""}) {
		t.Errorf("cross-host redirect: Authorization %q, want none", otherAuth)
	}
}

func TestRedact(t *testing.T) {
	inner := errors.New("GET /x: 502 Bad Gateway after 6 attempts")
	c := newClock()
	up := newUpstream(t, c, reply{status: 401})
	cl, _ := testClient(t, c, Options{})
	_, err := cl.Get(up.srv.URL + "/x?cursor=" + testQuerySecret)
	if err == nil {
		t.Fatal("want an error")
	}
	if !strings.Contains(err.Error(), testQuerySecret) {
		t.Skip("http.Client no longer quotes the URL; Redact is a no-op")
	}
	if got := Redact(err); strings.Contains(got.Error(), testQuerySecret) || !errors.Is(got, ErrCredentials) {
		t.Errorf("Redact(%v) = %v", err, got)
	}
	if got := Redact(inner); got != inner {
		t.Errorf("Redact changed a plain error: %v", got)
	}
	if Redact(nil) != nil {
		t.Error("Redact(nil) != nil")
	}
}

func TestNilMetricsAndLogger(t *testing.T) {
	c := newClock()
	up := newUpstream(t, c, reply{status: 503}, reply{status: 200})
	cl, err := New(Options{Connector: "x", Type: "jira", Now: c.Now, Sleep: c.Sleep, Limits: JiraLimits})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := cl.Get(up.srv.URL + "/rest/api/3/myself")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("status %d", resp.StatusCode)
	}
	var m *Metrics
	m.request("x", "jira", 200)
	m.retry("x", "jira", reasonNetwork)
	m.setRemaining("x", "jira", "burst", 1)
	m.wait("x", "jira", 1)
	m.Delete("x")
}

func TestMetricsDelete(t *testing.T) {
	c := newClock()
	up := newUpstream(t, c, reply{status: 200}, reply{status: 200})
	m := NewMetrics(nil)
	for _, name := range []string{"a", "b"} {
		cl, err := New(Options{Connector: name, Type: "github", Metrics: m, Now: c.Now, Sleep: c.Sleep})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := cl.Get(up.srv.URL + "/x")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	m.Delete("a")
	if n := testutil.CollectAndCount(m.requests); n != 1 {
		t.Errorf("%d request series left, want 1 (connector b)", n)
	}
}

// TestMetricsExposedBeforeFirstRetry: a new client's retry series (every
// reason) and wait series exist at 0 before any retry or wait.
func TestMetricsExposedBeforeFirstRetry(t *testing.T) {
	m := NewMetrics(nil)
	if _, err := New(Options{Connector: "a", Type: "zendesk", Metrics: m}); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(m.retries); n != 4 {
		t.Errorf("%d retry series, want 4 (one per reason)", n)
	}
	for _, r := range []string{reasonRateLimited, reasonServerError, reasonNetwork, reasonTimeout} {
		if v := testutil.ToFloat64(m.retries.WithLabelValues("a", "zendesk", r)); v != 0 {
			t.Errorf("retries{reason=%q} = %v, want 0", r, v)
		}
	}
	if n := testutil.CollectAndCount(m.waited); n != 1 {
		t.Errorf("%d wait series, want 1", n)
	}
}
