package config

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestFrozen(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	at := func(y int, mo time.Month, d, h, mi, s int) time.Time { return time.Date(y, mo, d, h, mi, s, 0, paris) }
	weekend := Environment{Freeze: []Freeze{{Cron: "0 18 * * FRI", Duration: 64 * time.Hour, Timezone: "Europe/Paris"}}}
	nightly := Environment{Freeze: []Freeze{{Cron: "0 22 * * *", Duration: 10 * time.Hour, Timezone: "UTC"}}}
	overlapping := Environment{Freeze: []Freeze{
		{Cron: "0 18 * * FRI", Duration: 64 * time.Hour, Timezone: "Europe/Paris"},
		{Cron: "0 0 24 DEC *", Duration: 192 * time.Hour, Timezone: "Europe/Paris"},
	}}
	everyMinute := Environment{Freeze: []Freeze{{Cron: "* * * * *", Duration: 8760 * time.Hour, Timezone: "UTC"}}}
	invalid := Environment{Freeze: []Freeze{{Cron: "not cron", Duration: time.Hour, Timezone: "UTC"}, {Cron: "* * * * *", Timezone: "UTC"}}}

	type result struct {
		Frozen bool
		Until  time.Time
	}
	// Spring forward: 2024-03-31 02:00 CET → 03:00 CEST. The window opens
	// Friday 18:00 CET (17:00 UTC) and lasts 64h of elapsed time, so it
	// closes Monday 09:00 UTC, which is 11:00 CEST.
	springEnd := at(2024, time.April, 1, 11, 0, 0)
	// Fall back: 2024-10-27 03:00 CEST → 02:00 CET. Friday 18:00 CEST
	// (16:00 UTC) + 64h is Monday 08:00 UTC, which is 09:00 CET.
	fallEnd := at(2024, time.October, 28, 9, 0, 0)
	for _, tc := range []struct {
		name string
		env  Environment
		t    time.Time
		want result
	}{
		{"no windows", Environment{}, at(2024, time.March, 29, 19, 0, 0), result{}},
		{"just before the window opens", weekend, at(2024, time.March, 29, 17, 59, 59), result{}},
		{"as the window opens", weekend, at(2024, time.March, 29, 18, 0, 0), result{true, springEnd}},
		{"across the spring DST change", weekend, at(2024, time.March, 31, 12, 0, 0), result{true, springEnd}},
		{"last second of the window", weekend, springEnd.Add(-time.Second), result{true, springEnd}},
		{"as the window closes", weekend, springEnd, result{}},
		{"window closes by elapsed time, not wall clock", weekend, at(2024, time.April, 1, 10, 30, 0), result{true, springEnd}},
		{"across the autumn DST change", weekend, at(2024, time.October, 27, 2, 30, 0), result{true, fallEnd}},
		{"last second of the autumn window", weekend, fallEnd.Add(-time.Second), result{true, fallEnd}},
		{"after the autumn window", weekend, fallEnd, result{}},
		{"midweek", weekend, at(2024, time.April, 3, 12, 0, 0), result{}},
		{"until is in t's location", weekend, time.Date(2024, time.March, 30, 12, 0, 0, 0, time.UTC), result{true, springEnd.UTC()}},
		{"window across midnight", nightly, time.Date(2024, time.May, 2, 7, 59, 0, 0, time.UTC), result{true, time.Date(2024, time.May, 2, 8, 0, 0, 0, time.UTC)}},
		{"daytime between nightly windows", nightly, time.Date(2024, time.May, 2, 12, 0, 0, 0, time.UTC), result{}},
		{"latest end of overlapping windows", overlapping, at(2024, time.December, 27, 20, 0, 0), result{true, at(2025, time.January, 1, 0, 0, 0)}},
		{"weekend window alone", overlapping, at(2024, time.December, 14, 20, 0, 0), result{true, at(2024, time.December, 16, 10, 0, 0)}},
		{"frequent schedule, long window", everyMinute, time.Date(2024, time.May, 2, 12, 34, 56, 0, time.UTC), result{true, time.Date(2025, time.May, 2, 12, 34, 0, 0, time.UTC)}},
		{"invalid windows never freeze", invalid, at(2024, time.May, 2, 12, 0, 0), result{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			frozen, until := tc.env.Frozen(tc.t)
			got := result{frozen, until}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Frozen(%s) mismatch (-want +got):\n%s", tc.t, diff)
			}
		})
	}
}
