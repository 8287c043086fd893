package metrics_test

import (
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sytefy/kit/metrics"
	"github.com/sytefy/kit/reminders"
)

func TestOptionsRejectBadInput(t *testing.T) {
	long := make([]byte, 65)
	for i := range long {
		long[i] = 'a'
	}
	tests := []struct {
		name   string
		opt    metrics.Option
		naming string // the option the message must name
	}{
		{"namespace with a dash", metrics.WithNamespace("my-app"), "WithNamespace"},
		{"namespace with a leading digit", metrics.WithNamespace("1app"), "WithNamespace"},
		{"namespace too long", metrics.WithNamespace(string(long)), "WithNamespace"},
		{"label name with a dot", metrics.WithConstLabels(prometheus.Labels{"a.b": "x"}), "WithConstLabels"},
		{"reserved label prefix", metrics.WithConstLabels(prometheus.Labels{"__name": "x"}), "WithConstLabels"},
		{"label kind", metrics.WithConstLabels(prometheus.Labels{"kind": "x"}), "WithConstLabels"},
		{"label shard", metrics.WithConstLabels(prometheus.Labels{"shard": "x"}), "WithConstLabels"},
		{"label le", metrics.WithConstLabels(prometheus.Labels{"le": "x"}), "WithConstLabels"},
		{"label value not UTF-8", metrics.WithConstLabels(prometheus.Labels{"app": "\xff"}), "WithConstLabels"},
		{"no lateness buckets", metrics.WithLatenessBuckets(), "WithLatenessBuckets"},
		{"lateness buckets out of order", metrics.WithLatenessBuckets(1, 0.5), "WithLatenessBuckets"},
		{"lateness bucket repeated", metrics.WithLatenessBuckets(1, 1), "WithLatenessBuckets"},
		{"lateness bucket NaN", metrics.WithLatenessBuckets(math.NaN()), "WithLatenessBuckets"},
		{"duration bucket +Inf", metrics.WithDurationBuckets(1, math.Inf(1)), "WithDurationBuckets"},
		{"empty kind", metrics.WithKinds("mail", ""), "WithKinds"},
		{"kind not UTF-8", metrics.WithKinds("\xff"), "WithKinds"},
		{"kind too long", metrics.WithKinds(string(make([]byte, reminders.MaxIDLen+1))), "WithKinds"},
		{"stats timeout zero", metrics.WithStatsTimeout(0), "WithStatsTimeout"},
		{"stats timeout too long", metrics.WithStatsTimeout(time.Hour), "WithStatsTimeout"},
		{"nil logger", metrics.WithLogger(nil), "WithLogger"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := fixedStats(reminders.Stats{}, nil)
			for name, build := range map[string]func() error{
				"NewReminders":     func() error { _, err := metrics.NewReminders(tt.opt); return err },
				"NewReminderStats": func() error { _, err := metrics.NewReminderStats(src, tt.opt); return err },
			} {
				err := build()
				require.ErrorIs(t, err, metrics.ErrInvalid, name)
				assert.Contains(t, err.Error(), tt.naming, name)
			}
		})
	}
}

func TestOptionsAcceptGoodInput(t *testing.T) {
	opts := []metrics.Option{
		nil, // ignored, as in the reminders package
		metrics.WithNamespace("_my_app2"),
		metrics.WithConstLabels(prometheus.Labels{"app": "booking", "region": "eu"}),
		metrics.WithLatenessBuckets(0.01, 0.1, 1),
		metrics.WithDurationBuckets(0.1),
		metrics.WithKinds("appointments.send_reminder"),
		metrics.WithStatsTimeout(time.Millisecond),
		metrics.WithLogger(slog.New(slog.DiscardHandler)),
	}
	r, err := metrics.NewReminders(opts...)
	require.NoError(t, err)
	s, err := metrics.NewReminderStats(fixedStats(reminders.Stats{}, nil), opts...)
	require.NoError(t, err)
	reg := prometheus.NewPedanticRegistry()
	assert.NoError(t, reg.Register(r))
	assert.NoError(t, reg.Register(s))
	_, err = reg.Gather()
	assert.NoError(t, err)
}

// WithConstLabels copies its map: changing it afterwards changes nothing.
func TestWithConstLabelsCopiesTheMap(t *testing.T) {
	labels := prometheus.Labels{"app": "booking"}
	m, err := metrics.NewReminders(metrics.WithConstLabels(labels))
	require.NoError(t, err)
	labels["app"] = "changed"
	labels["le"] = "boom"
	m.ObserveReminder(reminders.Event{Type: reminders.EventScheduled, Kind: "mail"})
	got := metric(t, m, "kit_reminders_scheduled_total", "mail").GetLabel()
	require.Len(t, got, 2)
	assert.Equal(t, "app", got[0].GetName())
	assert.Equal(t, "booking", got[0].GetValue())
}
