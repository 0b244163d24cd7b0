package httpclient

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Metrics are the upstream self-metrics (SPEC §5.3), shared by every
// connector's client and labelled per connector. A nil *Metrics records
// nothing.
type Metrics struct {
	requests  *prometheus.CounterVec
	retries   *prometheus.CounterVec
	remaining *prometheus.GaugeVec
	waited    *prometheus.CounterVec
}

// Retry reasons, the values of the `reason` label.
const (
	reasonRateLimited = "rate_limited"
	reasonServerError = "server_error"
	reasonNetwork     = "network"
	reasonTimeout     = "timeout"
)

// NewMetrics registers the upstream metric families on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	return &Metrics{
		requests: f.NewCounterVec(prometheus.CounterOpts{
			Name: "kpid_upstream_requests_total",
			Help: "Requests sent to upstream APIs, every attempt counted, by HTTP status code (\"error\" when no response came).",
		}, []string{"connector", "type", "code"}),
		retries: f.NewCounterVec(prometheus.CounterOpts{
			Name: "kpid_upstream_retries_total",
			Help: "Upstream requests tried again, by reason (rate_limited, server_error, network, timeout).",
		}, []string{"connector", "type", "reason"}),
		remaining: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kpid_upstream_rate_limit_remaining",
			Help: "Requests left in an upstream rate-limit budget, as the last response reported it.",
		}, []string{"connector", "type", "resource"}),
		waited: f.NewCounterVec(prometheus.CounterOpts{
			Name: "kpid_upstream_rate_limit_wait_seconds_total",
			Help: "Seconds spent waiting for upstream rate limits to reset, before a request or before retrying a refused one.",
		}, []string{"connector", "type"}),
	}
}

// Delete removes every series of a connector, for a connector removed or
// renamed by a config reload.
func (m *Metrics) Delete(connector string) {
	if m == nil {
		return
	}
	l := prometheus.Labels{"connector": connector}
	m.requests.DeletePartialMatch(l)
	m.retries.DeletePartialMatch(l)
	m.remaining.DeletePartialMatch(l)
	m.waited.DeletePartialMatch(l)
}

// init creates a connector's retry (every reason) and wait series at 0,
// so that they are exposed before the first retry or wait (a rate() over
// them then starts from the connector's start, not from its first retry).
func (m *Metrics) init(connector, typ string) {
	if m == nil {
		return
	}
	for _, r := range []string{reasonRateLimited, reasonServerError, reasonNetwork, reasonTimeout} {
		m.retries.WithLabelValues(connector, typ, r)
	}
	m.waited.WithLabelValues(connector, typ)
}

func (m *Metrics) request(connector, typ string, code int) {
	if m == nil {
		return
	}
	c := "error"
	if code > 0 {
		c = strconv.Itoa(code)
	}
	m.requests.WithLabelValues(connector, typ, c).Inc()
}

func (m *Metrics) retry(connector, typ, reason string) {
	if m == nil {
		return
	}
	m.retries.WithLabelValues(connector, typ, reason).Inc()
}

func (m *Metrics) setRemaining(connector, typ, resource string, v int) {
	if m == nil {
		return
	}
	m.remaining.WithLabelValues(connector, typ, resource).Set(float64(v))
}

func (m *Metrics) wait(connector, typ string, seconds float64) {
	if m == nil || seconds <= 0 {
		return
	}
	m.waited.WithLabelValues(connector, typ).Add(seconds)
}
